"""What a run may spend, what it has spent, and when it must stop."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_selfinstruct.stats import RunStats, UsageTracker

__all__ = ["Budget"]


@dataclass
class Budget:
    """Token and cost limits of one run, the usage it has counted and its stop switch.

    ``stop_reason`` is asked before every unit of work is launched; work already in flight always
    finishes, so a run may end slightly over its limits, never silently under-counted.
    """

    price: tuple[float, float] | None
    """USD per million (input, output) tokens; ``None`` when the model's price is unknown."""
    max_cost: float | None = None
    """Stop once the estimated cost in USD reaches this."""
    max_tokens: int | None = None
    """Stop once this many tokens were used."""
    usage: UsageTracker = field(default_factory=UsageTracker)
    """Counts every model call of the run (attached to the run's callbacks)."""
    stop: threading.Event = field(default_factory=threading.Event)
    """Set from outside (Ctrl-C, leaving a stream) to stop after the work in flight."""
    started: float = field(default_factory=time.monotonic)
    endpoint_counts: Callable[[], dict[str, dict[str, Any]]] | None = None
    """The run's per-replica counts of a routed model (``routing.counts_since``), if any."""

    def account(self, stats: RunStats) -> None:
        """Copy the usage counted so far, the elapsed time and the cost into ``stats``."""
        usage = self.usage
        stats.prompt_tokens, stats.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        stats.model_calls, stats.model_errors = usage.calls, usage.errors
        stats.fallbacks = Counter(usage.fallbacks)
        stats.elapsed_s = time.monotonic() - self.started
        if self.endpoint_counts is not None:
            stats.endpoints = self.endpoint_counts()
        price = self.price
        stats.cost_usd = (
            None
            if price is None
            else (stats.prompt_tokens * price[0] + stats.completion_tokens * price[1]) / 1e6
        )

    def stop_reason(self, stats: RunStats) -> str | None:
        """``interrupted``, ``max_tokens`` or ``max_cost`` once the run must stop, else ``None``."""
        if self.stop.is_set():
            return "interrupted"
        if self.max_tokens is not None and stats.total_tokens >= self.max_tokens:
            return "max_tokens"
        if self.max_cost is not None and (stats.cost_usd or 0.0) >= self.max_cost:
            return "max_cost"
        return None
