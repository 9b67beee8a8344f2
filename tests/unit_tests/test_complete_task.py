"""CompleteTask as a step of its own, rate limiting inside the chain, and the executor seam."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.rate_limiters import BaseRateLimiter
from langchain_core.runnables import RunnableLambda

from langchain_selfinstruct import FakeSelfInstructLLM, Instance, Task, get_preset
from langchain_selfinstruct.loop import (
    CompleteCandidate,
    GenerateInstructions,
    InProcessExecutor,
    WorkDone,
)
from langchain_selfinstruct.rate_limit import with_rate_limiter
from langchain_selfinstruct.steps import (
    CompleteTask,
    InstanceFilter,
    InstanceFilterResult,
    InstanceGenerator,
    StepFailedError,
)
from tests.unit_tests.fakes import RecordingLLM, Reply, Script

INSTRUCTION = "Convert the following temperature from Celsius to Fahrenheit."


class Limiter(BaseRateLimiter):
    def __init__(self) -> None:
        self.acquired = 0

    def acquire(self, *, blocking: bool = True) -> bool:
        self.acquired += 1
        return True

    async def aacquire(self, *, blocking: bool = True) -> bool:
        return self.acquire(blocking=blocking)


def test_complete_task_returns_the_filtered_task_and_the_counts() -> None:
    verdict = CompleteTask(FakeSelfInstructLLM(seed=1), preset="fast").invoke(INSTRUCTION)
    assert verdict.task is not None and verdict.task.instruction == INSTRUCTION
    assert verdict.task.is_classification is not None
    assert 0 < len(verdict.kept) <= get_preset("fast").max_instances
    assert verdict.stats["kept"] == len(verdict.kept)
    assert verdict.stats["total"] == verdict.stats["kept"] + sum(verdict.dropped.values())


async def test_complete_task_composes_in_lcel_and_runs_async() -> None:
    chain = RunnableLambda(lambda text: text.strip()) | CompleteTask(FakeSelfInstructLLM())
    verdict = await chain.ainvoke(f"  {INSTRUCTION}  ")
    assert isinstance(verdict, InstanceFilterResult)
    assert verdict.task is not None and verdict.task.instruction == INSTRUCTION


@pytest.mark.parametrize(
    ("replies", "stage"),
    [(["???"], "identify_classification"), (["Yes", "???"], "generate_instances")],
)
def test_a_failing_step_is_named(replies: list[str], stage: str) -> None:
    llm = RecordingLLM(script=Script(replies))
    with pytest.raises(StepFailedError) as caught:
        CompleteTask(llm, preset="fast").invoke(INSTRUCTION)
    assert caught.value.stage == stage
    assert str(caught.value).startswith(f"{stage} failed: OutputParserException")
    assert isinstance(caught.value.__cause__, OutputParserException)


def test_the_instance_filter_reports_every_drop_with_its_reason() -> None:
    task = Task(
        id="t",
        instruction=INSTRUCTION,
        instances=[
            Instance(input="10", output="50"),
            Instance(input="10 ", output=" 50"),
            Instance(input="x", output=""),
            Instance(input="y:", output="z"),
            Instance(input="20", output="68"),
            Instance(input="30", output="86"),
        ],
    )
    result = InstanceFilter(max_instances=2).apply(task)
    assert [r.reason for r in result.rejected] == [
        "duplicate",
        "empty_output",
        "ends_with_colon",
        "over_limit",
    ]
    assert result.rejected[2].detail == {"field": "input"}
    assert result.stats == {
        "total": 6,
        "kept": 2,
        "dropped_duplicate": 1,
        "dropped_empty_output": 1,
        "dropped_ends_with_colon": 1,
        "dropped_over_limit": 1,
    }
    assert [i.output for i in result.kept] == ["50", "68"]


def test_a_custom_instance_rule_drops_with_its_reason_and_name() -> None:
    def no_lorem(input_: str, output: str) -> str | None:
        return "lorem" if "lorem" in output else None

    task = Task(id="t", instruction=INSTRUCTION, instances=[Instance(output="lorem ipsum")])
    result = InstanceFilter(custom_rules=[no_lorem]).apply(task)
    assert result.task is None and result.task_reason == "no_valid_instances"
    assert [(r.reason, r.detail) for r in result.rejected] == [("lorem", {"rule": "no_lorem"})]


def test_a_rate_limited_completion_model_acquires_before_each_call_and_keeps_finish_reason() -> (
    None
):
    limiter = Limiter()
    text = "Example 1\nInput: 1\nOutput: 2\nExample 2\nInput: 3\nOutput: 4\nExample 3\nInput: 5"
    llm = RecordingLLM(script=Script([Reply(text, finish_reason="length")]))
    step = InstanceGenerator(with_rate_limiter(llm, limiter), preset="fast")
    instances = step.invoke({"instruction": INSTRUCTION, "is_classification": False})
    # The last example was cut by the token limit, so it is dropped, as in the paper's code.
    assert [(i.input, i.output) for i in instances] == [("1", "2"), ("3", "4")]
    assert limiter.acquired == len(llm.log.calls) == 1
    assert llm.log.calls[0].stop is not None and "Task:" in llm.log.calls[0].stop


async def test_the_in_process_executor_reports_results_and_errors_and_cancels() -> None:
    async def slow(texts: Sequence[str]) -> list[str]:
        await asyncio.sleep(30)
        return list(texts)

    def fail(text: str) -> Any:
        raise ValueError(f"no {text}")

    executor = InProcessExecutor(
        RunnableLambda(lambda texts: [t.upper() for t in texts]), RunnableLambda(fail), {}
    )
    executor.submit(GenerateInstructions(number=0, prompt=("a", "b"), prompt_ids=("s0", "s1")))
    executor.submit(CompleteCandidate(number=0, instruction="x"))
    done: list[WorkDone] = []
    while executor.in_flight:
        done.extend(await executor.wait())
    results = {type(d.unit).__name__: d.result for d in done}
    assert results["GenerateInstructions"] == ["A", "B"]
    error = results["CompleteCandidate"]
    assert isinstance(error, ValueError) and str(error) == "no x"

    stuck = InProcessExecutor(RunnableLambda(slow), RunnableLambda(fail), {})
    stuck.submit(GenerateInstructions(number=1, prompt=("c",), prompt_ids=("s2",)))
    await asyncio.sleep(0)
    await asyncio.wait_for(stuck.aclose(), timeout=5)
    assert stuck.in_flight == 1  # cancelled, never reported as done
