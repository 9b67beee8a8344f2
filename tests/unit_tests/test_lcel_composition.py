"""One Self-Instruct round composed by hand in LCEL, as a user would write it (paper Figure 1).

This doubles as documentation: every step is an ordinary Runnable, so the paper's loop body is

    seed tasks ─► InstructionGenerator ─► InstructionFilter ─► .kept
        ─► for each instruction: ClassificationIdentifier ─► Task ─► InstanceGenerator
        ─► InstanceFilter ─► accepted tasks

The models here are langchain-core fakes; swap in ``ChatOpenAI(...)``, ``OpenAI(...)`` or a local
llama.cpp model and nothing else changes.
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import FakeListLLM
from langchain_core.runnables import (
    Runnable,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
)

from langchain_selfinstruct.schema import Instance, Task
from langchain_selfinstruct.steps import (
    ClassificationIdentifier,
    InstanceFilter,
    InstanceGenerator,
    InstructionFilter,
    InstructionFilterResult,
    InstructionGenerator,
)
from tests.unit_tests.fakes import RunNames

SEEDS = [
    Task(id="seed_0", instruction="Suggest a name for a bakery that sells only bread."),
    Task(id="seed_1", instruction="Is the sentence a question? Answer yes or no."),
    Task(id="seed_2", instruction="Explain how a bicycle gear works to a child."),
]
MOOD = "Classify the mood of the song lyrics as happy or sad."
PLANTS = "Give two tips for keeping houseplants alive."
CONTINUATION = (
    f" {MOOD}\n"
    "5. Describe the picture in the attached image.\n"  # paper blacklist: "image"
    "6. Hi there\n"  # too short
    "7. Classify the mood of these song lyrics as happy or sad.\n"  # near-duplicate of 4
    f"8. {PLANTS}"
)
MOOD_INSTANCES = (
    "Class label: Happy\nInput: Sunshine on my face, dancing all day\n"
    "Class label: Sad\nInput: Empty rooms and fading photographs"
)
PLANT_INSTANCES = (
    "Example 1\nOutput: Water only when the top inch of soil is dry.\n"
    "Example 2\nOutput: Water only when the top inch of soil is dry."  # duplicate, filtered
)


def to_task(fields: dict[str, Any]) -> Task:
    return Task(
        id="machine_" + "_".join(fields["instruction"].lower().split()[:3]),
        instruction=fields["instruction"],
        is_classification=fields["is_classification"],
        source="machine",
    )


def with_instances(fields: dict[str, Any]) -> Task:
    task: Task = fields["task"]
    return task.model_copy(update={"instances": fields["instances"]})


def seed_instructions(tasks: list[Task]) -> list[str]:
    return [task.instruction for task in tasks]


def kept(result: InstructionFilterResult) -> list[str]:
    return result.kept


def accepted(tasks: list[Task | None]) -> list[Task]:
    return [task for task in tasks if task is not None]


def build_round(
    generator_llm: Any, classifier_llm: Any, instance_llm: Any
) -> Runnable[list[Task], list[Task]]:
    """The body of the bootstrap loop as one LCEL expression."""
    per_instruction = (
        RunnableParallel(
            instruction=RunnablePassthrough(),
            is_classification=ClassificationIdentifier(classifier_llm),
        )
        | RunnableLambda(to_task)
        | RunnableParallel(task=RunnablePassthrough(), instances=InstanceGenerator(instance_llm))
        | RunnableLambda(with_instances)
        | InstanceFilter()
    )
    return (
        RunnableLambda(seed_instructions)
        | InstructionGenerator(generator_llm)
        | InstructionFilter()
        | RunnableLambda(kept)
        | per_instruction.map()
        | RunnableLambda(accepted)
    )


def fakes() -> tuple[FakeListLLM, FakeListLLM, FakeListLLM]:
    return (
        FakeListLLM(responses=[CONTINUATION]),
        FakeListLLM(responses=[" Yes", " No"]),
        FakeListLLM(responses=[MOOD_INSTANCES, PLANT_INSTANCES]),
    )


EXPECTED = [
    (
        MOOD,
        True,
        [
            Instance(input="Sunshine on my face, dancing all day", output="Happy"),
            Instance(input="Empty rooms and fading photographs", output="Sad"),
        ],
    ),
    (PLANTS, False, [Instance(output="Water only when the top inch of soil is dry.")]),
]


def summary(tasks: list[Task]) -> list[tuple[str, bool | None, list[Instance]]]:
    return [(task.instruction, task.is_classification, task.instances) for task in tasks]


def test_one_round_composed_by_hand() -> None:
    names = RunNames()
    # One instruction at a time keeps the fakes' scripted answers in order.
    config: Any = {"callbacks": [names], "max_concurrency": 1}
    tasks = build_round(*fakes()).invoke(SEEDS, config)
    assert summary(tasks) == EXPECTED
    assert all(task.source == "machine" for task in tasks)
    steps = [name for name in names.chains if name.startswith("self_instruct.")]
    assert steps[:2] == ["self_instruct.generate_instructions", "self_instruct.filter_instructions"]
    assert steps.count("self_instruct.identify_classification") == 2
    assert steps.count("self_instruct.generate_instances") == 2
    assert steps.count("self_instruct.filter_instances") == 2


async def test_one_round_composed_by_hand_async() -> None:
    tasks = await build_round(*fakes()).ainvoke(SEEDS, {"max_concurrency": 1})
    assert summary(tasks) == EXPECTED
