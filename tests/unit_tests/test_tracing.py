"""The trace tree: one run per step, with the prompt, model and parser runs nested under it."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseLanguageModel
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run

from langchain_selfinstruct import FakeSelfInstructLLM, SelfInstructPipeline, Task, load_seed_tasks
from langchain_selfinstruct.steps import (
    ClassificationIdentifier,
    CompleteTask,
    InstanceGenerator,
    InstructionGenerator,
)


class Collector(BaseTracer):
    """Keeps every finished root run (with its children).

    Inline: an async run would otherwise hand its events to a thread pool, out of order.
    """

    run_inline = True

    def __init__(self) -> None:
        super().__init__()
        self.roots: list[Run] = []

    def _persist_run(self, run: Run) -> None:
        self.roots.append(run)


def _walk(run: Run) -> list[Run]:
    return [run, *(d for child in run.child_runs for d in _walk(child))]


def _trace(runnable: Runnable[Any, Any], value: Any) -> Run:
    collector = Collector()
    config: RunnableConfig = {"callbacks": [collector]}
    runnable.invoke(value, config)
    assert len(collector.roots) == 1, [r.name for r in collector.roots]
    return collector.roots[0]


def _answers(kind: str, text: str) -> BaseLanguageModel[Any]:
    if kind == "completion":
        return FakeListLLM(responses=[text] * 10)
    return GenericFakeChatModel(messages=iter([AIMessage(text)] * 10))


def _cases(kind: str) -> list[tuple[Runnable[Any, Any], Any]]:
    classify = ClassificationIdentifier(_answers(kind, "Yes"))
    generate = InstructionGenerator(_answers(kind, "Write a haiku about rain.\n2. Name a river."))
    instances = InstanceGenerator(_answers(kind, "Input: 5 miles\nOutput: 8 km"))
    task = {"instruction": "Convert miles to km.", "is_classification": False}
    return [(classify, "Is it sarcastic?"), (generate, ["Write a poem."]), (instances, task)]


@pytest.mark.parametrize("kind", ["completion", "chat"])
@pytest.mark.parametrize("case", range(3))
def test_a_step_is_one_run_with_prompt_model_and_parser_under_it(kind: str, case: int) -> None:
    step, value = _cases(kind)[case]
    root = _trace(step, value)
    assert root.name == step.get_name()
    runs = _walk(root)
    assert [r.name for r in runs].count(step.get_name()) == 1
    types = {r.run_type for r in runs[1:]}
    assert {"prompt", "llm", "parser"} <= types


@pytest.mark.parametrize("case", range(3))
def test_a_run_name_from_with_config_names_one_run(case: int) -> None:
    step, value = _cases("chat")[case]
    root = _trace(step.with_config(run_name="x"), value)
    assert root.name == "x"
    assert [r.name for r in _walk(root)].count("x") == 1


def test_resamples_are_children_of_the_step_run() -> None:
    llm = FakeListLLM(responses=["", "", "Yes"])
    root = _trace(ClassificationIdentifier(llm), "Is it sarcastic?")
    llm_runs = [r for r in _walk(root) if r.run_type == "llm"]
    assert len(llm_runs) == 3
    assert len(root.child_runs) == 3  # one chain run per attempt


def test_complete_task_is_one_run_over_its_three_steps() -> None:
    complete = CompleteTask(FakeSelfInstructLLM())
    root = _trace(complete.with_config(run_name="x"), "Convert miles to km.")
    assert root.name == "x"
    assert [r.name for r in root.child_runs] == [
        "self_instruct.identify_classification",
        "self_instruct.generate_instances",
        "self_instruct.filter_instances",
    ]


def test_pipeline_loop_run_then_step_runs_then_model_runs() -> None:
    seeds = load_seed_tasks()[:10]
    pipeline = SelfInstructPipeline(FakeSelfInstructLLM(), seed_tasks=seeds, max_concurrency=2)
    root = _trace(pipeline, {"num_instructions": 2})
    assert root.name == "self_instruct"
    step_names = {r.name for r in root.child_runs}
    assert step_names <= {
        "self_instruct.generate_instructions",
        "self_instruct.filter_instructions",
        "self_instruct.complete_task",
    }
    assert "self_instruct.generate_instructions" in step_names
    for step in root.child_runs:
        for run in _walk(step):
            if run.run_type == "llm":
                assert run.parent_run_id is not None
    models = [r for r in _walk(root) if r.run_type == "llm"]
    assert models, "the model runs are under the loop run"
    assert all(isinstance(t, Task) for t in pipeline.invoke({"num_instructions": 1}))
