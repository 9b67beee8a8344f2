"""The paper's steps and the loop on the real embedded SmolLM2 model (offline; runs in CI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseLLM

from langchain_selfinstruct import (
    ClassificationIdentifier,
    InstanceGenerator,
    InstructionGenerator,
    SelfInstructPipeline,
    load_embedded_model,
    load_seed_tasks,
    load_tasks,
)
from tests.markers import NEEDS_LOCAL

pytestmark = [
    pytest.mark.local_model,
    NEEDS_LOCAL,
]


@pytest.fixture(scope="module")
def llm() -> BaseLLM:
    model = load_embedded_model(seed=0)
    assert isinstance(model, BaseLLM)
    return model


def test_instruction_generation_continues_the_list(llm: BaseLLM) -> None:
    seeds = load_seed_tasks()
    new = InstructionGenerator(llm, preset="fast").invoke(seeds[:8])
    assert new
    assert all(isinstance(text, str) and text == text.strip() and text for text in new)
    assert not {t.instruction for t in seeds[:8]} & set(new[1:])  # it writes, not only copies


def test_classification_answers_a_bool_for_seed_tasks(llm: BaseLLM) -> None:
    step = ClassificationIdentifier(llm, preset="fast")
    answers = step.batch([t.instruction for t in load_seed_tasks()[:4]])
    assert all(isinstance(answer, bool) for answer in answers)


def test_instance_generation_is_well_formed_or_a_parser_error(llm: BaseLLM) -> None:
    step = InstanceGenerator(llm, preset="fast")
    well_formed = 0
    for task in load_seed_tasks()[:4]:
        try:
            instances = step.invoke(task)
        except OutputParserException:
            continue
        well_formed += 1
        assert 1 <= len(instances) <= step.max_instances
        assert all(i.output and i.output == i.output.strip() for i in instances)
    assert well_formed >= 2


def test_the_loop_end_to_end_writes_a_resumable_run(llm: BaseLLM, tmp_path: Path) -> None:
    pipeline = SelfInstructPipeline(llm, preset="fast", max_concurrency=2, seed=0)
    summary = pipeline.run(tmp_path, num_instructions=2)
    assert summary.stats.stop_reason == "target"
    tasks = load_tasks(tmp_path / "tasks.jsonl")
    assert [t.id for t in tasks] == ["machine_task_0", "machine_task_1"]
    assert all(t.instances and t.model == "embedded:SmolLM2-135M-Instruct" for t in tasks)
    again = pipeline.run(tmp_path, num_instructions=2)
    assert again.stats.accepted == 0
    assert again.total_tasks == 2
