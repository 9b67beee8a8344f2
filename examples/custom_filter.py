"""Plug filters of your own into the Self-Instruct loop and see what they rejected.

Two extra rules run after the paper's (§2.4) inside :class:`InstructionFilter`: a length rule of
our own (instructions must fit on one line of a phone screen) and an LLM judge that asks a model
whether the instruction is a clear task. A rule returns a reason to reject, or ``None`` to keep;
every rejection is counted by reason and written to ``rejects.jsonl``.

Run: ``python examples/custom_filter.py`` (the embedded SmolLM2 model; needs the ``local`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseLanguageModel
from langchain_core.prompts import PromptTemplate

from langchain_selfinstruct import (
    InstructionFilter,
    RunSummary,
    SelfInstructPipeline,
    YesNoParser,
    get_preset,
    load_embedded_model,
)
from langchain_selfinstruct.pipeline import LoopEvent, Rejected

MAX_CHARS = 50
JUDGE_PROMPT = PromptTemplate.from_template(
    "You review tasks for a dataset of instructions. A good task is clear, self-contained and "
    "something a text-only assistant can do.\n"
    "Instruction: {instruction}\n"
    "Is it a good task? Answer Yes or No.\n"
    "Answer:"
)


def fits_on_one_line(text: str) -> str | None:
    """Reject instructions longer than ``MAX_CHARS`` characters."""
    return f"over_{MAX_CHARS}_chars" if len(text) > MAX_CHARS else None


def llm_judge(llm: BaseLanguageModel[Any]) -> Callable[[str], str | None]:
    """A rule that asks ``llm`` whether an instruction is a good task."""
    judge = JUDGE_PROMPT | llm.bind(stop=["\n"]) | YesNoParser()

    def judged_unclear(text: str) -> str | None:
        try:
            return None if judge.invoke({"instruction": text}) else "judge:unclear"
        except OutputParserException:
            return "judge:no_verdict"  # a judge that answers garbage rejects, visibly

    return judged_unclear


def main(
    llm: BaseLanguageModel[Any] | None = None,
    judge: BaseLanguageModel[Any] | None = None,
    out_dir: str | os.PathLike[str] = "custom_filter_run",
    num_instructions: int = 5,
) -> RunSummary:
    """Grow ``out_dir`` with both extra rules in the loop and print the rejects by reason."""
    model = llm if llm is not None else load_embedded_model()
    instruction_filter = InstructionFilter(
        custom_rules=[fits_on_one_line, llm_judge(judge or model)]
    )
    pipeline = SelfInstructPipeline(
        model, instruction_filter=instruction_filter, preset=get_preset("fast"), seed=0
    )
    examples: dict[str, str] = {}

    def remember(event: LoopEvent) -> None:
        if isinstance(event, Rejected) and event.record.instruction is not None:
            examples.setdefault(event.record.reason, event.record.instruction)

    summary = pipeline.run(out_dir, num_instructions, on_event=remember)
    print(f"{summary.stats.accepted} tasks written to {summary.out_dir}; rejected:")
    for reason, count in summary.stats.rejected.most_common():
        print(f"  {count:3d} {reason:24s} e.g. {examples.get(reason, '')!r}")
    return summary


if __name__ == "__main__":
    main()
