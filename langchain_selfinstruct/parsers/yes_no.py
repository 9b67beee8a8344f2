"""Parse the yes/no answer of the classification question (paper §2.2)."""

from __future__ import annotations

import re

from langchain_selfinstruct.parsers._text import InlineParser, fail

__all__ = ["YesNoParser"]

_F = re.IGNORECASE
_YES_NO_PREFIX = re.compile(
    r"^(?:is\s+it\s+(?:a\s+)?classification(?:\s+task)?\s*\??|(?:final\s+)?answer\s*[:-]"
    r"|a\s*:|output\s*:)\s*",
    _F,
)
_YES_NO = re.compile(r"\b(yes|no)\b", _F)
_YES_NO_WINDOW = 80


class YesNoParser(InlineParser[bool]):
    r"""Parse a yes/no answer such as the classification question (paper §2.2).

    The first ``yes``/``no`` word decides, looked for only at the start of the answer (first line,
    at most 80 characters) after an ``Answer:`` or echoed ``Is it classification?`` prefix, so a
    completion model that runs on into the next task cannot flip the answer.

    Example:
        .. code-block:: python

            YesNoParser().parse("**No**\n\nTask: Write a poem.")  # -> False
    """

    @property
    def _type(self) -> str:
        return "self_instruct_yes_no"

    def parse(self, text: str) -> bool:
        """Return ``True`` for yes, ``False`` for no; raise on anything else."""
        rest = text.replace("*", "").strip()
        while (stripped := _YES_NO_PREFIX.sub("", rest, count=1).lstrip()) != rest:
            rest = stripped
        window = rest[:_YES_NO_WINDOW].splitlines()[:1]
        match = _YES_NO.search(window[0]) if window else None
        if match is None:
            raise fail("Expected the answer to start with 'Yes' or 'No'.", text)
        return match.group(1).lower() == "yes"

    def get_format_instructions(self) -> str:
        """Describe the expected format."""
        return "Answer with a single word: Yes or No."
