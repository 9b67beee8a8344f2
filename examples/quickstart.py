"""Quickstart: grow the bundled seed tasks into new tasks with the embedded offline model.

Run: ``python examples/quickstart.py`` (needs the ``local`` extra; no key, server or network).
Swap in any LangChain model, e.g. ``main(ChatOpenAI(model="gpt-4o-mini"))``.
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseLanguageModel

from langchain_selfinstruct import SelfInstructPipeline, Task, get_preset, load_embedded_model


def main(llm: BaseLanguageModel[Any] | None = None, num_instructions: int = 5) -> list[Task]:
    """Stream new tasks as the loop accepts them."""
    model = llm if llm is not None else load_embedded_model()
    pipeline = SelfInstructPipeline(model, preset=get_preset("fast"), seed=0)
    tasks: list[Task] = []
    for chunk in pipeline.stream({"num_instructions": num_instructions}):
        for task in chunk:
            print(f"{task.id}: {task.instruction} ({len(task.instances)} instances)")
            tasks.append(task)
    return tasks


if __name__ == "__main__":
    main()
