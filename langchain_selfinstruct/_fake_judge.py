"""How the scripted fake model answers the judge prompts: plausible, mixed, seeded verdicts.

Kept apart from :mod:`langchain_selfinstruct.fake` so the judge scripts can grow (the evaluation
rubric and pairwise prompts add theirs to :data:`JUDGE_SCRIPTS`) without touching the steps'.
The verdicts look at the example a little (a request to draw is not a valid task; an empty
output or one that repeats the input is not acceptable) and otherwise say "yes" at about the
rates of the paper's own review (Table 2), so a dry run's report has a spread to show.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from langchain_selfinstruct._fake_eval import EVAL_SCRIPTS

__all__ = ["JUDGE_SCRIPTS", "answer_judge_prompt"]

_YES_RATES = {"task": 0.92, "input": 0.8, "output": 0.6}
_NOT_TEXT = re.compile(r"\b(?:draw|picture|image|photo|video|browse)\w*\b", re.IGNORECASE)
_REASONS = {
    ("task", True): ("a clear request a text model can handle", "the task is well defined"),
    ("task", False): ("the request is vague", "it needs more than text to do"),
    ("input", True): ("the input matches what the instruction needs", "it fits the request"),
    ("input", False): ("the input does not fit the instruction", "needed material is missing"),
    ("output", True): ("the answer is correct and complete", "a reasonable response"),
    ("output", False): ("the answer is wrong or incomplete", "it does not address the input"),
}


def _field(prompt: str, name: str) -> str:
    found = re.findall(rf"^{name}: (.*)$", prompt, flags=re.MULTILINE)
    return found[-1].strip() if found else ""


def _line(part: str, ok: bool, rng: random.Random) -> str:
    return f"{'yes' if ok else 'no'} - {rng.choice(_REASONS[(part, ok)])}"


def _review(prompt: str, rng: random.Random) -> str:
    instruction, input_, output = (_field(prompt, n) for n in ("Instruction", "Input", "Output"))
    task_ok = not _NOT_TEXT.search(instruction) and rng.random() < _YES_RATES["task"]
    input_ok = rng.random() < _YES_RATES["input"]
    output_ok = bool(output) and output != input_ and rng.random() < _YES_RATES["output"]
    # The prompt ends with "Valid task:", so the answer continues it, as a completion model does.
    input_line = _line("input", input_ok, rng)
    if input_ok and input_ == "(none)":
        input_line = "yes - the instruction needs no input"
    return (
        f" {_line('task', task_ok, rng)}\n"
        f"Appropriate input: {input_line}\n"
        f"Acceptable output: {_line('output', output_ok, rng)}"
    )


JUDGE_SCRIPTS: list[tuple[Callable[[str], bool], Callable[[str, random.Random], str]]] = [
    (lambda p: "Valid task:" in p and "Acceptable output:" in p, _review),
    *EVAL_SCRIPTS,
]
"""``(recognises the prompt, answers it)`` pairs, tried in order; the evaluation's (answerer,
rubric and pairwise prompts) come from :mod:`._fake_eval`."""


def answer_judge_prompt(prompt: str, rng: random.Random) -> str | None:
    """The scripted answer to a judge prompt, or ``None`` when ``prompt`` is not one."""
    for recognises, answer in JUDGE_SCRIPTS:
        if recognises(prompt):
            return answer(prompt, rng)
    return None
