"""The pipeline and the filters as LCEL expects them (issue 13): the standard ``max_concurrency``
config key, ``.pick`` / ``.assign`` on the filters' results, and a scripted model's answers
served in order (never split between copies of the model).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import FakeListChatModel, FakeListLLM

from langchain_selfinstruct import FakeSelfInstructLLM, SelfInstructPipeline
from langchain_selfinstruct.schema import Instance, Task
from langchain_selfinstruct.steps import InstanceFilter, InstructionFilter

SEEDS = [
    Task(id=f"seed_task_{n}", instruction=text, instances=[Instance(output="ok")], source="seed")
    for n, text in enumerate(
        ["Name a river in Europe.", "Sort the numbers 3, 1, 2.", "Write a haiku about rain."]
    )
]


class _Tracking(FakeSelfInstructLLM):
    """Records the most calls it had in flight at once (into a shared list: copies share it)."""

    peak: list[int]
    active: list[int]

    async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            self.active[0] += 1
            self.peak[0] = max(self.peak[0], self.active[0])
        try:
            return await super()._agenerate(*args, **kwargs)
        finally:
            with _LOCK:
                self.active[0] -= 1


_LOCK = threading.Lock()


@pytest.mark.parametrize(("field", "key", "expected"), [(8, 2, 2), (2, None, 2), (1, 3, 3)])
def test_the_config_max_concurrency_wins_over_the_field_for_that_call(
    field: int, key: int | None, expected: int
) -> None:
    llm = _Tracking(latency_s=0.01, peak=[0], active=[0])
    pipeline = SelfInstructPipeline(llm, max_concurrency=field)
    config: dict[str, Any] = {} if key is None else {"max_concurrency": key}
    pipeline.invoke({"num_instructions": 12}, config=config)  # type: ignore[arg-type]
    assert llm.peak[0] == expected


def test_a_bad_config_max_concurrency_is_refused() -> None:
    pipeline = SelfInstructPipeline(FakeSelfInstructLLM())
    with pytest.raises(ValueError, match=r"config\['max_concurrency'\]"):
        pipeline.invoke({"num_instructions": 1}, config={"max_concurrency": 0})


def test_pick_and_assign_after_the_instruction_filter() -> None:
    batch = ["Name three birds that cannot fly.", "Draw a map of the city.", "Hi."]
    step = InstructionFilter()
    assert step.pick("kept").invoke(batch) == ["Name three birds that cannot fly."]
    picked = step.pick(["kept", "stats"]).invoke(batch)
    assert picked["kept"] == ["Name three birds that cannot fly."]
    assert picked["stats"]["dropped_too_short"] == 1
    assigned = step.assign(dropped=lambda r: [x.reason for x in r["rejected"]]).invoke(batch)
    assert assigned["dropped"] == ["blacklisted:draw", "too_short"]
    assert assigned["kept"] == ["Name three birds that cannot fly."]


async def test_pick_after_the_instance_filter_async() -> None:
    task = Task(
        id="t", instruction="Add the numbers.", instances=[Instance(input="1, 2", output="3")]
    )
    assert await InstanceFilter().pick("instances").ainvoke(task) == task.instances


class _ModelCalls(BaseCallbackHandler):
    run_inline = True  # counted on the loop's thread, before invoke returns

    def __init__(self) -> None:
        self.count = 0

    def on_llm_start(self, *args: Any, **kwargs: Any) -> None:
        self.count += 1

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self.count += 1


_BIRD = "Name a bird that cannot fly."
_INSTANCES = "Example 1\nOutput: The ostrich."


@pytest.mark.parametrize(
    ("make", "generation"),
    [(FakeListLLM, f" {_BIRD}"), (FakeListChatModel, f"1. {_BIRD}")],
    ids=["llm", "chat"],
)
def test_a_scripted_models_answers_are_served_in_order_across_the_steps(
    make: Any, generation: str
) -> None:
    # One script for the whole pipeline: generation, then classification, then instances. Were
    # the steps given copies each with its own position, classification would read the first
    # answer again ("Name a bird...": no yes/no) and need a resample: a fourth call.
    llm = make(responses=[generation, " No", _INSTANCES])
    calls = _ModelCalls()
    (task,) = SelfInstructPipeline(llm, seed_tasks=SEEDS, max_concurrency=1).invoke(
        {"num_instructions": 1}, config={"callbacks": [calls]}
    )
    assert calls.count == 3
    assert task.instruction == _BIRD
    assert task.is_classification is False
    assert [(i.input, i.output) for i in task.instances] == [("", "The ostrich.")]
