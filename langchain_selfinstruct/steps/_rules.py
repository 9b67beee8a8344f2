"""Small filter rules for Self-Instruct's filtering step (Wang et al., 2022, §2.4).

Each rule looks at one text (or one instance) and returns ``None`` to keep it or a
:class:`~langchain_selfinstruct.steps.filter_results.RuleHit` naming why it is dropped, in the
spirit of datatrove's filter blocks. The defaults follow the
paper's released code (``bootstrap_instructions.py`` and ``prepare_for_finetuning.py``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Sequence

from langchain_selfinstruct.dedup.tokenize import TokenizerName, get_tokenizer
from langchain_selfinstruct.parsers._text import is_preamble
from langchain_selfinstruct.schema import Instance
from langchain_selfinstruct.steps.filter_results import InstructionRule, RuleHit

__all__ = [
    "ALPACA_EXTRA_BLACKLIST",
    "PAPER_BLACKLIST",
    "blacklist_rule",
    "empty_output",
    "empty_rule",
    "ends_with_colon",
    "find_conflict",
    "input_equals_output",
    "length_rule",
    "non_ascii_start",
    "normalize_instruction",
    "preamble_rule",
    "prefix_rule",
    "starts_with_punctuation",
]

PAPER_BLACKLIST: tuple[str, ...] = (
    "image",
    "images",
    "graph",
    "graphs",
    "picture",
    "pictures",
    "file",
    "files",
    "map",
    "maps",
    "draw",
    "plot",
    "go to",
)
"""Keywords a text-only model cannot act on (paper §2.4). Plurals are listed explicitly, as in the
paper's code, so ``plots`` and ``draws`` pass."""

ALPACA_EXTRA_BLACKLIST: tuple[str, ...] = ("video", "audio", "music", "flowchart", "diagram")
"""Stanford Alpaca's additions to the keyword blacklist (opt in via ``extra_blacklist``)."""

_QUOTE_PAIRS = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "`": "`"}
_WHITESPACE = re.compile(r"\s+")


def normalize_instruction(text: str) -> str:
    """Collapse whitespace and strip surrounding whitespace and matching quotes.

    Args:
        text: A raw candidate instruction.

    Returns:
        The cleaned text (possibly empty).
    """
    text = _WHITESPACE.sub(" ", text).strip()
    while len(text) >= 2 and _QUOTE_PAIRS.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return text


def empty_rule(text: str) -> RuleHit | None:
    """Reject a text that is empty after normalisation (the paper skips ``""``)."""
    return RuleHit("empty", {}) if not text else None


def length_rule(
    min_words: int, max_words: int, tokenizer: TokenizerName = "rouge"
) -> InstructionRule:
    """Build the word-count rule (paper §2.4: reject ``<= 3`` or ``> 150`` words).

    With ``tokenizer="rouge"`` words are counted with ``str.split()``, like the paper's
    ``len(inst.split())``; with ``"unicode"`` they are the near-duplicate check's Unicode words,
    one per character in scripts written without spaces (Chinese, Japanese, Thai), where
    ``split()`` would see one "word" per sentence.

    Args:
        min_words: Texts with at most this many words are ``too_short``.
        max_words: Texts with more than this many words are ``too_long``.
        tokenizer: How words are counted.

    Returns:
        The rule.
    """
    words_of: Callable[[str], list[str]] = (
        str.split if tokenizer == "rouge" else get_tokenizer(tokenizer)
    )

    def rule(text: str) -> RuleHit | None:
        words = len(words_of(text))
        if words <= min_words:
            return RuleHit("too_short", {"words": words, "min_words": min_words})
        if words > max_words:
            return RuleHit("too_long", {"words": words, "max_words": max_words})
        return None

    return rule


def blacklist_rule(words: Iterable[str]) -> InstructionRule:
    """Build the keyword rule: whole-word, case-insensitive matches (paper §2.4).

    The reason is ``blacklisted:<word>`` with the matched keyword lower-cased; a listed plural whose
    singular is also listed reports the singular (``images`` gives ``blacklisted:image``).

    Args:
        words: Keywords or phrases (``"go to"``).

    Returns:
        The rule; it never fires when ``words`` is empty.
    """
    listed = {word.lower() for word in words if word}
    if not listed:
        return lambda text: None
    # Longest first so a phrase wins over a keyword it starts with.
    alternatives = "|".join(re.escape(word) for word in sorted(listed, key=len, reverse=True))
    pattern = re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)

    def rule(text: str) -> RuleHit | None:
        match = pattern.search(text)
        if match is None:
            return None
        word = match.group(0).lower()
        if word.endswith("s") and word[:-1] in listed:
            word = word[:-1]
        return RuleHit(f"blacklisted:{word}", {"word": word, "matched": match.group(0)})

    return rule


def prefix_rule(prefixes: Sequence[str]) -> InstructionRule:
    """Build the rule rejecting texts that start with a given phrase, case-insensitively.

    The paper drops instructions starting with "Write a program" after capitalising them, which
    amounts to a case-insensitive match. The reason is ``starts_with_<phrase in snake case>``.

    Args:
        prefixes: Phrases to reject at the start of a text.

    Returns:
        The rule.
    """
    folded = [(prefix, prefix.casefold()) for prefix in prefixes if prefix]

    def rule(text: str) -> RuleHit | None:
        start = text.casefold()
        for prefix, key in folded:
            if start.startswith(key):
                slug = re.sub(r"[^0-9a-z]+", "_", key).strip("_")
                return RuleHit(f"starts_with_{slug}", {"prefix": prefix})
        return None

    return rule


def preamble_rule(text: str) -> RuleHit | None:
    """Reject a model's reply to the request ("Sure! Here are more tasks:"), which asks nothing.

    The parsers drop such lines already; this catches them from anywhere else (a custom parser,
    a structured answer, a list handed to the filter).
    """
    return RuleHit("preamble", {}) if is_preamble(text) else None


def starts_with_punctuation(text: str) -> RuleHit | None:
    """Reject a text starting with ASCII punctuation (``string.punctuation``, as in the paper)."""
    if text and text[0] in string.punctuation:
        return RuleHit("starts_with_punctuation", {"char": text[0]})
    return None


def non_ascii_start(text: str) -> RuleHit | None:
    """Reject a text starting with a non-ASCII character (the paper's English-only filter)."""
    if text and not text[0].isascii():
        return RuleHit("non_ascii_start", {"char": text[0]})
    return None


def empty_output(input_: str, output: str) -> RuleHit | None:
    """Reject an instance without output (paper's ``filter_invalid_instances``)."""
    return RuleHit("empty_output", {}) if not output else None


def input_equals_output(input_: str, output: str) -> RuleHit | None:
    """Reject an instance whose output just repeats its input."""
    return RuleHit("input_equals_output", {}) if input_ == output else None


def ends_with_colon(input_: str, output: str) -> RuleHit | None:
    """Reject an instance whose input or output ends with ":", usually a cut-off generation."""
    if input_.endswith(":") or output.endswith(":"):
        return RuleHit("ends_with_colon", {"field": "input" if input_.endswith(":") else "output"})
    return None


def find_conflict(instances: Iterable[Instance]) -> str | None:
    """Find a non-empty input that maps to two different outputs.

    The paper drops the whole task then (``filter_duplicate_instances``); instances without input
    may differ freely, since a task like "write a poem" has many good answers.

    Args:
        instances: The instances to check (compared after ``strip()``).

    Returns:
        The conflicting input, or ``None``.
    """
    seen: dict[str, str] = {}
    for instance in instances:
        input_, output = instance.input.strip(), instance.output.strip()
        if input_ and seen.setdefault(input_, output) != output:
            return input_
    return None
