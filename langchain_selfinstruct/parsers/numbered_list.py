"""Parse the numbered list of new instructions that step 1 asks for (paper §2.1)."""

from __future__ import annotations

from langchain_selfinstruct.parsers._text import (
    HEADING,
    ITEM_MARKER,
    REMARK,
    TruncationAwareParser,
    clean_item,
    dedupe_items,
    fail,
    is_preamble,
    possibly_cut,
)

__all__ = ["NumberedListParser"]


def _is_separator(line: str, following: list[str]) -> bool:
    """A remark, a heading, or a header right before an item ("Come up with more tasks:").

    A header needs a few words: a short "Answer:" may be the last line of a multi-line item.
    """
    header = line.rstrip(" *_").endswith(":") and len(line.split()) >= 3
    header = header and any(ITEM_MARKER.match(f) for f in following)
    return header or bool(REMARK.match(line) or HEADING.match(line))


def _split_list(text: str, first_item_unnumbered: bool) -> list[str]:
    """Split a list response into raw items, the cut-off last one included.

    The unnumbered first item of a completion is the prompt's "9." continued, unless its first
    line is a reply to the request ("Sure! Here are more tasks:"): then it is no item at all.
    """
    items: list[list[str]] = [[]] if first_item_unnumbered else []
    current: list[str] | None = items[0] if items else None
    gap = False
    lines = text.splitlines()
    for index, line in enumerate(lines):
        marker = ITEM_MARKER.match(line)
        opening = current is not None and not any(current) and len(items) == 1
        if marker:
            current = [line[marker.end() :].strip()]
            items.append(current)
            gap = False
        elif not line.strip():
            # A blank line only matters once the item has text: "9.\n\nWrite ..." is still item 9.
            gap = current is not None and any(current)
        elif (
            current is None
            or gap
            or _is_separator(line, lines[index + 1 : index + 2])
            or (first_item_unnumbered and opening and is_preamble(line))
        ):
            current = None
        else:
            current.append(line.strip())
    return ["\n".join(part for part in item if part) for item in items]


class NumberedListParser(TruncationAwareParser[list[str]]):
    r"""Parse a numbered or bulleted list of instructions (paper §2.1, instruction generation).

    Accepts ``9.``, ``9)``, ``Task 9:``, ``Instruction 9:`` and ``-``/``*``/``•`` markers, skips a
    chatty preamble, trailing remarks and headings, removes markdown bold and surrounding quotes,
    and joins an item's continuation lines. Duplicate items keep their first occurrence.

    Example:
        .. code-block:: python

            parser = NumberedListParser(first_item_unnumbered=True)
            parser.parse(" Write a haiku about rain.\n10. Name three prime numbers.")
            # -> ["Write a haiku about rain.", "Name three prime numbers."]
    """

    first_item_unnumbered: bool = False
    """The text before the first marker is an item: completion prompts end with ``"9."``."""
    max_items: int | None = None
    """Keep at most this many items (after dropping a truncated one and duplicates)."""

    @property
    def _type(self) -> str:
        return "self_instruct_numbered_list"

    def _parse(self, text: str, *, truncated: bool | None) -> list[str]:
        raw = _split_list(text, self.first_item_unnumbered)
        if raw and possibly_cut(raw[-1], truncated):
            raw = raw[:-1]
        items = dedupe_items((clean_item(item) for item in raw), self.max_items)
        if not items:
            raise fail("No list items found in the model output.", text)
        return items

    def get_format_instructions(self) -> str:
        """Describe the expected format."""
        return "Write one task per line as a numbered list: '1. <instruction>', '2. ...'."
