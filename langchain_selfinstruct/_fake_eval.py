"""How the scripted fake model answers the evaluation prompts, as an answerer and as a judge.

The answers are plausible and mixed, so a dry run (``--model fake``, ``--judge fake``) has a
spread to show: the fake answerer sometimes just repeats the input (which the rubric calls D);
the fake grader grades by word overlap with the reference plus chance; the fake pairwise judge
prefers the reply closer to the reference, with a little preference for the longer reply and for
the one shown first, so, like a real weak judge, it sometimes contradicts itself across orders.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

__all__ = ["EVAL_SCRIPTS"]

_ANSWER_LABELS = ("Request", "Material")
_GRADE_LABELS = ("Request", "Material", "Good reply", "Assistant's reply")
_PAIR_LABELS = ("Request", "Material", "Good reply", "Reply 1", "Reply 2")
_OPENERS = ("Sure.", "Here you go:", "Of course.", "Happy to help.")
_REASONS = {
    "A": ("right and complete", "does what was asked"),
    "B": ("mostly right, small slips", "usable but misses a detail"),
    "C": ("on topic but wrong in places", "serious mistakes in content"),
    "D": ("does not answer the request", "repeats the material"),
}


def _fields(prompt: str, labels: tuple[str, ...]) -> dict[str, str]:
    """The fields of the prompt's last example (values may span several lines)."""
    start = prompt.rfind(f"\n{labels[0]}: ")
    block = prompt[start + 1 :] if start >= 0 else prompt
    pattern = "|".join(re.escape(label) for label in (*labels, "Reply", "Grade", "Better reply"))
    found: dict[str, str] = {}
    parts = re.split(rf"^({pattern}): ?", block, flags=re.MULTILINE)
    for label, value in zip(parts[1::2], parts[2::2], strict=False):
        found.setdefault(label, value.strip())
    return found


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _overlap(reply: str, reference: str) -> float:
    mine, theirs = _words(reply), _words(reference)
    if not mine or not theirs:
        return 0.0
    common = len(mine & theirs)
    return 2 * common / (len(mine) + len(theirs))


def _answer(prompt: str, rng: random.Random) -> str:
    fields = _fields(prompt, _ANSWER_LABELS)
    request, material = fields.get("Request", ""), fields.get("Material", "")
    roll = rng.random()
    if roll < 0.15 and material and material != "(none)":
        return f" {material}"
    subject = material if material and material != "(none)" else request
    if roll < 0.45:
        return f" {rng.choice(_OPENERS)} {request.rstrip('.?!')}."
    words = subject.split()
    return f" {rng.choice(_OPENERS)} " + " ".join(words[: rng.randint(4, 30)])


def _grade(prompt: str, rng: random.Random) -> str:
    fields = _fields(prompt, _GRADE_LABELS)
    reply = fields.get("Assistant's reply", "")
    copied = reply in {fields.get("Material", ""), fields.get("Request", "")}
    if not reply or reply == "(empty)" or copied:
        grade = "D"
    else:
        closeness = _overlap(reply, fields.get("Good reply", ""))
        weights = (0.1 + closeness, 0.3, 0.3, 0.15 + (0.25 if closeness < 0.1 else 0.0))
        grade = rng.choices("ABCD", weights=weights)[0]
    # The prompt ends with "Grade:", so the answer continues it, as a completion model does.
    return f" {grade} - {rng.choice(_REASONS[grade])}"


def _pair(prompt: str, rng: random.Random) -> str:
    fields = _fields(prompt, _PAIR_LABELS)
    reference = fields.get("Good reply", "")
    scores = []
    for position, label in enumerate(("Reply 1", "Reply 2")):
        reply = fields.get(label, "")
        length_bonus = 0.1 * min(1.0, len(reply.split()) / 40)
        first_bonus = 0.05 if position == 0 else 0.0
        scores.append(_overlap(reply, reference) + length_bonus + first_bonus + rng.gauss(0, 0.08))
    if abs(scores[0] - scores[1]) < 0.03:
        return " tie - about as good as each other"
    better = 1 if scores[0] > scores[1] else 2
    return f" {better} - closer to what the user asked"


EVAL_SCRIPTS: list[tuple[Callable[[str], bool], Callable[[str, random.Random], str]]] = [
    (lambda p: "\nAssistant's reply:" in p and p.rstrip().endswith("Grade:"), _grade),
    (lambda p: "\nReply 2:" in p and p.rstrip().endswith("Better reply:"), _pair),
    (lambda p: "\nRequest:" in p and p.rstrip().endswith("Reply:"), _answer),
]
"""``(recognises the prompt, answers it)`` pairs for the evaluation prompts."""
