"""What every Self-Instruct text parser shares: truncation, failures, item cleaning, inline async.

Like the paper's reference code, the parsers drop the last item or instance of a generation cut by
the token limit (see :func:`is_truncated`); anything unreadable raises ``OutputParserException``
so the steps can count and retry. A model that reports no finish reason at all
(langchain-community's ``LlamaCpp``, langchain-core's fake models) may have been cut too, so there
the last list item is kept only if it ends like a finished sentence (see :func:`possibly_cut`).
The last instance is kept: labels, numbers and code end without punctuation, so its text cannot
tell a cut from an ending.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeVar

from langchain_core.exceptions import OutputParserException
from langchain_core.output_parsers import BaseOutputParser
from langchain_core.outputs import ChatGeneration, Generation

__all__ = [
    "BOLD",
    "BULLET",
    "CHATTY",
    "FINISH_KEYS",
    "HEADING",
    "ITEM_MARKER",
    "REMARK",
    "InlineParser",
    "TruncationAwareParser",
    "clean_item",
    "dedupe_items",
    "fail",
    "first_text",
    "is_preamble",
    "is_truncated",
    "possibly_cut",
    "unquote",
]

_F = re.IGNORECASE
BOLD = r"(?:\*\*|__)?"
BULLET = r"(?:[-*•]\s+)?"
ITEM_MARKER = re.compile(
    rf"^\s*{BOLD}\s*(?:(?:(?:task|instruction|item)\s*#?\s*)?\(?\d{{1,3}}\s*[.):](?!\d)|[-*•‣◦▪]\s)",
    _F,
)
HEADING = re.compile(r"^\s*#{1,6}\s")
REMARK = re.compile(
    r"^\W*(?:let me know if you (?:need|want|would like|have)|i hope (?:this|these|that) "
    r"(?:helps?|examples?|tasks?|list)|hope (?:this|these|that) helps?|feel free to"
    r"|these (?:tasks|instructions|examples) (?:are|should|cover|can|show|illustrate)|note:)",
    _F,
)
CHATTY = re.compile(r"^\W*(?:sure|certainly|of course|okay|ok|here|below|great|absolutely)\b", _F)
# A reply to the request rather than an item of it: an assent ("Sure!", "Okay,"), "Here are ..."
# or "Below is ...", or a header naming what follows ("More tasks:", "New instructions:").
_PREAMBLE = re.compile(
    r"^\W*(?:(?:sure|certainly|of course|okay|ok|absolutely)\b(?!\s+\w+\s+(?:is|are)\b)"
    r"|(?:here|below)\s+(?:are|is)\b.*(?::\W*$|\b(?:tasks?|instructions?|examples?|ideas|list)\b)"
    r"|.*\b(?:tasks?|instructions?|examples?|prompts?)\W*:\W*$)",
    _F,
)
_BOLD_TITLE = re.compile(r"^\*\*[^*\n]{1,60}?(?::\*\*|\*\*\s*:)\s*(?=\S)")
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "`": "`", "«": "»"}
_TRUNCATED = frozenset({"length", "max_tokens"})
FINISH_KEYS = ("finish_reason", "stop_reason", "done_reason")
_FINISHED = re.compile(r"[.?!…。？！؟۔।][\"'”’»)\]]*$")

_T = TypeVar("_T")


def is_truncated(generation: Generation) -> bool:
    """Tell whether a generation stopped because it ran out of tokens.

    Reads ``finish_reason`` (OpenAI, llama.cpp, Gemini), ``stop_reason`` (Anthropic) and
    ``done_reason`` (Ollama) from ``generation_info`` and, for chat generations, from the message's
    ``response_metadata``; ``"length"`` and ``"max_tokens"`` (any case) mean truncated.
    """
    return any(str(reason).lower() in _TRUNCATED for reason in _finish_reasons(generation))


def _finish_reasons(generation: Generation) -> list[Any]:
    info: dict[str, Any] = dict(generation.generation_info or {})
    if isinstance(generation, ChatGeneration):
        info = {**generation.message.response_metadata, **info}
    return [info[key] for key in FINISH_KEYS if info.get(key) is not None]


def possibly_cut(text: str, truncated: bool | None) -> bool:
    """Whether a last item must go: cut by the token limit, or maybe cut (no finish reason).

    Without a finish reason (``truncated`` is ``None``) an item that does not end like a finished
    sentence (``.``, ``?``, ``!``, ``…``, their CJK, Arabic and Devanagari forms, possibly inside
    quotes or brackets) may have been cut.
    """
    return bool(truncated) or (truncated is None and not _FINISHED.search(text.rstrip()))


def is_preamble(text: str) -> bool:
    """Whether a one-line text is a chatty preamble ("Sure! Here are more tasks:"), never an item.

    A multi-line text is judged by its first line only when that line is all there is: an item's
    own lines may introduce its input ("Answer the question below:").
    """
    line = text.strip().strip("*_ ").strip()
    return "\n" not in line and bool(_PREAMBLE.match(line))


def fail(message: str, text: str) -> OutputParserException:
    return OutputParserException(message, llm_output=text)


def first_text(result: list[Generation]) -> tuple[str, bool | None]:
    """The first generation's text, and whether it was truncated (``None``: no finish reason)."""
    if not result:
        raise fail("The model returned no generation.", "")
    first = result[0]
    return first.text, is_truncated(first) if _finish_reasons(first) else None


def unquote(text: str) -> str:
    closing = _QUOTES.get(text[:1])
    inner = text[1:-1]
    if closing and len(text) >= 2 and text.endswith(closing) and closing not in inner:
        return inner.strip()
    return text


def clean_item(text: str) -> str:
    text = _BOLD_TITLE.sub("", text.strip())
    return unquote(text.replace("**", "").strip())


def dedupe_items(items: Iterable[str], limit: int | None) -> list[str]:
    seen: set[str] = set()
    kept: list[str] = []
    for item in items:
        key = " ".join(item.split()).casefold()
        if item and key not in seen:
            seen.add(key)
            kept.append(item)
    return kept[:limit] if limit is not None else kept


class InlineParser(BaseOutputParser[_T]):
    """A parser whose async path parses inline.

    ``BaseOutputParser.aparse_result`` hands ``parse_result`` to the thread pool; for a parse
    that takes microseconds the hop costs more than the parse, once per model call.
    """

    async def aparse_result(self, result: list[Generation], *, partial: bool = False) -> _T:
        """Parse on the calling thread; see :meth:`parse_result`."""
        return self.parse_result(result, partial=partial)


class TruncationAwareParser(InlineParser[_T]):
    """A parser that drops the last item of a generation cut by the token limit.

    Subclasses implement :meth:`_parse`; ``parse`` treats its text as complete.
    """

    def parse(self, text: str) -> _T:
        """Parse a complete (not truncated) response; see :meth:`parse_result`."""
        return self._parse(text, truncated=False)

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> _T:
        """Parse the first generation, dropping its last item if it hit the token limit."""
        text, truncated = first_text(result)
        return self._parse(text, truncated=truncated)

    def _parse(self, text: str, *, truncated: bool | None) -> _T:
        raise NotImplementedError
