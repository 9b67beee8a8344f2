"""Options that more than one ``selfinstruct`` command takes, defined once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["concurrency_option"]

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
