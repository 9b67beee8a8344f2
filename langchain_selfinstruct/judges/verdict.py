"""Read a judge's constrained answer: one ``Label: CHOICE - reason`` line per question.

Every judge prompt asks for the same shape, so one parser serves them all: the paper's Table 2
review (``Valid task: yes - ...``), and a rubric grade (``Grade: B - ...``) or a pairwise
preference. Only the listed choices count, as alpaca_eval reads a constrained answer; anything
else raises ``OutputParserException`` so the step's bounded retries take over.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from langchain_selfinstruct.parsers._text import InlineParser, fail

__all__ = ["MAX_RATIONALE_CHARS", "Verdict", "VerdictParser"]

MAX_RATIONALE_CHARS = 300
"""Rationales are cut to this many characters: a short reason, not an essay."""

_LINE = re.compile(
    r"^\s*(?:\d{1,2}\s*[.)]\s*)?(?P<label>[A-Za-z][A-Za-z /-]{0,40}?)\s*:\s*(?P<rest>.*)$"
)
_SEPARATOR = re.compile(r"^[\s.,;:)\]\-–—]+")


class Verdict(BaseModel):
    """One question's answer: a verdict among the allowed choices and a short rationale."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: str
    """The choice, as listed in the parser (``"yes"``, ``"no"``, ``"A"``, ...)."""
    rationale: str = ""
    """The judge's reason, at most :data:`MAX_RATIONALE_CHARS` characters."""


class VerdictParser(InlineParser[dict[str, Verdict]]):
    r"""Parse ``Label: CHOICE - rationale`` lines into one :class:`Verdict` per question.

    Args:
        questions: ``key -> label`` of each question, in prompt order; labels are matched
            case-insensitively at the start of a line (after an optional ``1.`` marker and
            markdown bold).
        choices: The allowed verdicts; the first word after the label must be one of them.
        case_sensitive: Match the choices case-sensitively (grades ``A``-``D``, where a
            lower-case ``a`` is an article); default ``False``.
        primed: The prompt ends with the first label, so a completion model's answer starts
            with the first verdict itself; default ``True``.

    Example:
        .. code-block:: python

            parser = VerdictParser(questions={"valid_task": "Valid task"}, choices=("yes", "no"))
            parser.parse("Valid task: yes - a clear request")["valid_task"].verdict  # -> "yes"
    """

    questions: Mapping[str, str]
    choices: tuple[str, ...] = ("yes", "no")
    case_sensitive: bool = False
    primed: bool = True

    @property
    def _type(self) -> str:
        return "self_instruct_verdict"

    def parse(self, text: str) -> dict[str, Verdict]:
        """Return each question's verdict; raise when one is missing or not an allowed choice."""
        labels = {self._fold(label): key for key, label in self.questions.items()}
        found: dict[str, Verdict] = {}
        lines = text.replace("*", "").replace("__", "").strip().splitlines()
        first_key = next(iter(self.questions))
        if self.primed and lines and (leading := self._verdict(lines[0])) is not None:
            # The answer continues the prompt's last line ("Valid task:") with the verdict.
            found[first_key] = leading
        for line in lines:
            match = _LINE.match(line)
            if match is None:
                continue
            key = labels.get(self._fold(match.group("label")))
            if key is None or key in found:
                continue
            verdict = self._verdict(match.group("rest"))
            if verdict is None:
                raise fail(f"{self.questions[key]}: expected one of {self._listed()}.", text)
            found[key] = verdict
        missing = [label for key, label in self.questions.items() if key not in found]
        if missing:
            raise fail(f"Missing verdict line(s) for: {', '.join(missing)}.", text)
        return {key: found[key] for key in self.questions}

    def get_format_instructions(self) -> str:
        """Describe the expected format, one line per question."""
        choices = " or ".join(self.choices)
        return "\n".join(f"{label}: {choices} - reason" for label in self.questions.values())

    def _verdict(self, rest: str) -> Verdict | None:
        flags = 0 if self.case_sensitive else re.IGNORECASE
        alternatives = "|".join(re.escape(choice) for choice in self.choices)
        match = re.match(rf"\s*({alternatives})\b", rest, flags)
        if match is None:
            return None
        choice = next(c for c in self.choices if self._same(c, match.group(1)))
        rationale = _SEPARATOR.sub("", rest[match.end() :]).strip()
        return Verdict(verdict=choice, rationale=rationale[:MAX_RATIONALE_CHARS])

    def _same(self, choice: str, text: str) -> bool:
        return choice == text if self.case_sensitive else choice.casefold() == text.casefold()

    def _fold(self, label: str) -> str:
        return " ".join(label.replace("-", " ").split()).casefold()

    def _listed(self) -> str:
        return ", ".join(repr(choice) for choice in self.choices)
