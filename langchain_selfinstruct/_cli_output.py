"""What ``selfinstruct generate`` shows: the progress bar on stderr and the summary table."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tqdm import tqdm

    from langchain_selfinstruct.pipeline import LoopEvent

__all__ = ["Progress", "summary_table"]


class Progress:
    """A tqdm bar: accepted / target, rejects, tokens, cost; rate and ETA from tqdm."""

    def __init__(self, target: int, *, enabled: bool) -> None:
        self._target = target
        self._enabled = enabled
        self._bar: tqdm[Any] | None = None

    def __enter__(self) -> Progress:
        if self._enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=self._target, unit="task", desc="accepted", file=sys.stderr)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, event: LoopEvent) -> None:
        from langchain_selfinstruct.pipeline import Accepted, RoundFinished
        from langchain_selfinstruct.stats import format_cost

        if self._bar is None:
            return
        if isinstance(event, Accepted):
            self._bar.update(1)
        elif isinstance(event, RoundFinished):
            stats = event.stats
            cost = format_cost(stats.cost_usd)
            self._bar.set_postfix(
                rejected=sum(stats.rejected.values()),
                failed=sum(stats.failures.values()),
                tokens=stats.total_tokens,
                cost=cost,
            )


def summary_table(record: dict[str, Any]) -> str:
    from langchain_selfinstruct.stats import format_cost

    rows: list[tuple[str, str]] = [
        ("output", record["out_dir"]),
        ("stopped because", record["stop_detail"]),
        ("tasks in directory", str(record["total_tasks"])),
        ("accepted this run", str(record["accepted"])),
        ("instances kept", str(record["instances_kept"])),
        ("candidates generated", str(record["generated_instructions"])),
        *((f"rejected: {k}", str(v)) for k, v in record["rejected"].items()),
        *((f"failed: {k}", str(v)) for k, v in record["failures"].items()),
        ("model calls / errors", f"{record['model_calls']} / {record['model_errors']}"),
        *((f"endpoint {name}", _endpoint(n)) for name, n in record.get("endpoints", {}).items()),
        ("tokens", f"{record['prompt_tokens']} in + {record['completion_tokens']} out"),
        ("cost", format_cost(record["cost_usd"])),
        ("elapsed", f"{record['elapsed_s']:.1f} s"),
        ("exit code", str(record["exit_code"])),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _endpoint(counts: dict[str, Any]) -> str:
    benched = (
        f", benched {counts['benches']}x for {counts['benched_s']:.1f} s"
        if counts["benches"]
        else ""
    )
    return f"{counts['requests']} requests, {counts['errors']} errors{benched}"
