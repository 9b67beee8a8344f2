"""Run the loop into an output directory: append-only, resumable, interrupt-safe.

``SelfInstructPipeline.run`` and the ``selfinstruct generate`` command are thin wrappers over
:func:`run_to_directory` and :func:`arun_to_directory`.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_selfinstruct._sync import iterate_in_thread
from langchain_selfinstruct.run_store import RunDirectory
from langchain_selfinstruct.schema import dump_task_line
from langchain_selfinstruct.stats import RunStats

if TYPE_CHECKING:
    from langchain_selfinstruct.pipeline import LoopEvent, LoopState, SelfInstructPipeline

__all__ = ["RunSummary", "arun_to_directory", "run_settings", "run_to_directory"]

SETTINGS_FORMAT = 1


@dataclass(frozen=True)
class RunSummary:
    """What a run to a directory did."""

    out_dir: Path
    """The output directory."""
    stats: RunStats
    """Counters of this session."""
    resumed_tasks: int
    """Tasks that were already in the directory when this session started."""
    torn_bytes: int
    """Size of a torn last line set aside on resume (0 when none)."""

    @property
    def total_tasks(self) -> int:
        """Tasks in the directory now."""
        return self.resumed_tasks + self.stats.accepted


def run_settings(pipeline: SelfInstructPipeline, num_instructions: int) -> dict[str, Any]:
    """Describe a run for ``settings.json``: what it needs to resume, and no credentials.

    Args:
        pipeline: The configured pipeline.
        num_instructions: Target number of tasks in the directory.

    Returns:
        A JSON-ready dict.
    """
    from langchain_selfinstruct import __version__

    preset = pipeline.preset.model_dump(mode="json")
    seeds = "\n".join(dump_task_line(task) for task in pipeline.seed_tasks)
    return {
        "format_version": SETTINGS_FORMAT,
        "package_version": __version__,
        "model": pipeline.resolved_model_name,
        "preset": pipeline.preset.name,
        "preset_sha256": _sha256(json.dumps(preset, sort_keys=True)),
        "preset_params": preset,
        "seed": pipeline.seed,
        "seed_tasks_sha256": _sha256(seeds),
        "seed_tasks_count": len(pipeline.seed_tasks),
        "num_instructions": num_instructions,
        "max_concurrency": pipeline.max_concurrency,
        "max_cost": pipeline.max_cost,
        "max_tokens": pipeline.max_tokens,
    }


def run_to_directory(
    pipeline: SelfInstructPipeline,
    out_dir: str | os.PathLike[str],
    num_instructions: int,
    *,
    on_event: Callable[[LoopEvent], None] | None = None,
) -> RunSummary:
    """Grow the directory's dataset to ``num_instructions`` tasks, resuming what is there.

    Ctrl-C stops after the in-flight work; everything accepted so far is on disk.

    Args:
        pipeline: The configured pipeline.
        out_dir: Output directory (created if missing).
        num_instructions: Target number of tasks in the directory, counting earlier sessions.
        on_event: Called in the calling thread for every loop event (progress display).

    Returns:
        The run summary; ``stats.stop_reason`` says why it stopped.
    """
    summary: list[RunSummary] = []
    events = iterate_in_thread(
        lambda stop: _events_to_directory(pipeline, Path(out_dir), num_instructions, stop, summary)
    )
    try:
        for event in events:
            if on_event is not None:
                on_event(event)
    except KeyboardInterrupt:
        if not summary:
            raise
    return summary[0]


async def arun_to_directory(
    pipeline: SelfInstructPipeline,
    out_dir: str | os.PathLike[str],
    num_instructions: int,
    *,
    on_event: Callable[[LoopEvent], None] | None = None,
) -> RunSummary:
    """Async :func:`run_to_directory`."""
    summary: list[RunSummary] = []
    async for event in _events_to_directory(
        pipeline, Path(out_dir), num_instructions, threading.Event(), summary
    ):
        if on_event is not None:
            on_event(event)
    return summary[0]


async def _events_to_directory(
    pipeline: SelfInstructPipeline,
    out_dir: Path,
    num_instructions: int,
    stop: threading.Event,
    summary: list[RunSummary],
) -> AsyncIterator[LoopEvent]:
    from langchain_selfinstruct.pipeline import Accepted, Rejected, RoundFinished

    directory = RunDirectory(out_dir)
    resume = directory.prepare(run_settings(pipeline, num_instructions))
    state = pipeline.new_state(resume.tasks)
    state.stop = stop
    remaining = num_instructions - len(resume.tasks)
    with directory:
        if remaining > 0:
            async for event in pipeline.events(remaining, state):
                if isinstance(event, Accepted):
                    directory.append_task(event.task)
                elif isinstance(event, Rejected):
                    directory.append_reject(event.record)
                elif isinstance(event, RoundFinished):
                    directory.write_stats(_stats_record(state.stats, len(resume.tasks)))
                yield event
        else:
            state.stats.stop_reason = "target"
            # No model call, but the cost must still say whether the price is known.
            _settle(pipeline, state)
        directory.write_stats(_stats_record(state.stats, len(resume.tasks)))
    summary.append(RunSummary(out_dir, state.stats, len(resume.tasks), resume.torn_bytes))


def _settle(pipeline: SelfInstructPipeline, state: LoopState) -> None:
    """Bring tokens, cost and elapsed time up to date, as the loop does after every round."""
    pipeline._account(state, pipeline._price())


def _stats_record(stats: RunStats, resumed: int) -> dict[str, Any]:
    return {**stats.to_dict(), "resumed_tasks": resumed, "total_tasks": resumed + stats.accepted}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
