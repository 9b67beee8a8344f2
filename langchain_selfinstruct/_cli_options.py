"""Options that more than one ``selfinstruct`` command takes, defined once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["concurrency_option", "tokenizer_option"]

F = TypeVar("F", bound=Callable[..., Any])


def concurrency_option(help: str) -> Callable[[F], F]:
    """``--concurrency`` / ``-c``: model calls in flight, 1 to 1024, default 8."""
    return click.option(
        "--concurrency",
        "-c",
        type=click.IntRange(min=1, max=1024),
        default=8,
        show_default=True,
        help=help,
    )


def tokenizer_option() -> Callable[[F], F]:
    """``--tokenizer``: how the filter counts words and finds near-duplicates, default rouge."""
    return click.option(
        "--tokenizer",
        type=click.Choice(["rouge", "unicode"]),
        default="rouge",
        show_default=True,
        help="How instructions are split into words for the length rule and the near-duplicate "
        "checks. rouge: the paper's (English; text without spaces is one word). unicode: any "
        "language, one word per Chinese or Japanese character; also lifts the English-only "
        "start rule. A resume must use the same one.",
    )
