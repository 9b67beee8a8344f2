"""Run the loop into an output directory: append-only, resumable, interrupt-safe.

``SelfInstructPipeline.run`` and the ``selfinstruct generate`` command are thin wrappers over
:func:`run_to_directory` and :func:`arun_to_directory`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_selfinstruct._sync import iterate_in_thread
from langchain_selfinstruct.loop.events import Accepted, LoopEvent, Rejected, RoundFinished
from langchain_selfinstruct.run_store import RunDirectory
from langchain_selfinstruct.schema import dump_task_line
from langchain_selfinstruct.stats import RunStats

if TYPE_CHECKING:
    # For annotations only: the pipeline imports this module (its run() methods), not the reverse.
    from langchain_selfinstruct.pipeline import SelfInstructPipeline

__all__ = [
    "EXIT_CODES",
    "SUCCESS_STOP_REASONS",
    "RunSummary",
    "arun_to_directory",
    "describe_stop",
    "exit_code_for",
    "interrupted_message",
    "run_settings",
    "run_to_directory",
    "short_of_target",
]

SETTINGS_FORMAT = 1

SUCCESS_STOP_REASONS = frozenset({"target", "max_cost", "max_tokens"})
"""Stops the user asked for: the target, or a budget they set."""

EXIT_CODES: dict[str, int] = {"stalled": 3, "interrupted": 130}
"""Exit code of ``selfinstruct generate`` by stop reason; 0 for :data:`SUCCESS_STOP_REASONS`, 4 for
any other (``model_error``: a refused key or permission, or no replica left answering)."""

_EXIT_OTHER = 4
_BUDGET_OPTIONS = {"max_cost": "--max-cost", "max_tokens": "--max-tokens"}


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
    target: int | None = None
    """The target number of tasks in the directory."""
    max_stalled_rounds: int | None = None
    """Rounds in a row without an accepted task after which the loop stops (``stalled``)."""
    tokenizer: str = "rouge"
    """The filter's tokenizer, for the hint of a stop whose rejects it would change."""

    @property
    def total_tasks(self) -> int:
        """Tasks in the directory now."""
        return self.resumed_tasks + self.stats.accepted

    @property
    def exit_code(self) -> int:
        """The command's exit code for this stop: see :func:`exit_code_for`."""
        return exit_code_for(self.stats.stop_reason)

    @property
    def stop_detail(self) -> str:
        """Why the run stopped, in one line: the reason, the count, and the main cause."""
        return describe_stop(
            self.stats,
            total=self.total_tasks,
            target=self.target,
            max_stalled_rounds=self.max_stalled_rounds,
            tokenizer=self.tokenizer,
        )


def describe_stop(
    stats: RunStats,
    *,
    total: int,
    target: int | None,
    max_stalled_rounds: int | None,
    tokenizer: str = "rouge",
) -> str:
    """Why a run stopped, in one line: the reason, the count, the main cause, the last error.

    Args:
        stats: The run's counters.
        total: Tasks there are now (resumed plus accepted).
        target: The target number of tasks.
        max_stalled_rounds: The stall window, for the wording of a stall.
        tokenizer: The filter's tokenizer: a stop whose main reject reason another one would
            change names it (``too_short`` from a text without spaces, ``non_ascii_start``).

    Returns:
        The line ``selfinstruct generate`` prints and ``RunStoppedError`` carries.
    """
    reason = stats.stop_reason
    progress = f"{total} of {target} tasks"
    if reason == "target":
        return f"reached the target: {progress}"
    if reason in _BUDGET_OPTIONS:
        return f"stopped at the {_BUDGET_OPTIONS[reason]} budget: {progress}"
    if reason == "interrupted":
        return f"interrupted: {progress}; run the same command again to resume"
    if reason == "stalled":
        head = f"stalled: no task accepted in {max_stalled_rounds} rounds in a row"
    elif reason == "model_error":
        head = "model_error: the model refused the credentials or the permission, or is down"
    else:
        head = f"stopped because {reason}"
    cause = _main_cause(stats)
    detail = f"{head}, {progress}" + (f"; most frequent: {cause}" if cause else "")
    detail += _setting_hint(stats, tokenizer)
    return detail + (f"; last error: {stats.last_error}" if stats.last_error else "")


_TOKENIZER_HINTS = {
    "too_short": "words are counted by spaces; if the text has none (Chinese, Japanese, Thai)",
    "non_ascii_start": "the paper's English-only rule; for another language",
}


def _setting_hint(stats: RunStats, tokenizer: str) -> str:
    """The setting that would change the dominant reject reason, when there is one."""
    if tokenizer != "rouge" or not stats.rejected:
        return ""
    reason = max(stats.rejected, key=lambda name: stats.rejected[name])
    hint = _TOKENIZER_HINTS.get(reason)
    if hint is None or max(stats.failures.values(), default=0) > stats.rejected[reason]:
        return ""
    return f"; {reason} dominates: {hint} use --tokenizer unicode (tokenizer='unicode')"


def short_of_target(stats: RunStats) -> bool:
    """Whether a run stopped for a reason the caller did not ask for (a stall, a model error).

    An interrupt is the caller's own doing (Ctrl-C, leaving a stream) and is not an error.
    """
    return stats.stop_reason not in SUCCESS_STOP_REASONS | {"interrupted", None}


def exit_code_for(stop_reason: str | None) -> int:
    """Map a stop reason onto the exit code of ``selfinstruct generate``.

    Args:
        stop_reason: ``RunStats.stop_reason``.

    Returns:
        0 for the target or a user-set budget, 3 for a stall, 130 for an interrupt, 4 for any
        other stop (repeated model errors).
    """
    if stop_reason in SUCCESS_STOP_REASONS:
        return 0
    return EXIT_CODES.get(stop_reason or "", _EXIT_OTHER)


def interrupted_message(out_dir: str | os.PathLike[str]) -> str:
    """Say what a run interrupted without its summary (a third Ctrl-C) left on disk.

    Args:
        out_dir: The run's output directory.

    Returns:
        One line: the tasks on disk and how to go on.
    """
    tasks = RunDirectory(out_dir).tasks_path
    if not tasks.is_file():
        return f"interrupted before any task was written to {tasks}"
    # Every append is one fsynced line, so complete lines are complete tasks.
    count = tasks.read_bytes().count(b"\n")
    return (
        f"interrupted while stopping: {count} tasks are in {tasks}, every line complete; "
        "stats.json may be out of date; run the same command again to resume"
    )


def _main_cause(stats: RunStats) -> str | None:
    causes = [(n, f"rejected {reason} ({n})") for reason, n in stats.rejected.items()]
    causes += [(n, f"failed {stage} ({n})") for stage, n in stats.failures.items()]
    return max(causes, key=lambda cause: cause[0])[1] if causes else None


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
        "tokenizer": pipeline.effective_tokenizer,
        "max_cost": pipeline.max_cost,
        "max_tokens": pipeline.max_tokens,
        "filters": filter_settings(pipeline),
    }


def filter_settings(pipeline: SelfInstructPipeline) -> list[dict[str, Any]]:
    """The rules added to the paper's filters (``--exclude``, ``--curate``, custom rules).

    They decide which tasks are kept, so a resume with other ones would mix two datasets. A rule
    describes itself with a ``settings()`` method; one without is named by its ``__name__``.
    """
    rules: list[Any] = []
    if pipeline.instruction_filter is not None:
        rules.extend(pipeline.instruction_filter.custom_rules)
    if pipeline.judged_rule is not None:
        rules.append(pipeline.judged_rule)
    described = []
    for rule in rules:
        settings = getattr(rule, "settings", None)
        name = getattr(rule, "__name__", type(rule).__name__)
        described.append(settings() if callable(settings) else {"rule": name})
    return described


def run_to_directory(
    pipeline: SelfInstructPipeline,
    out_dir: str | os.PathLike[str],
    num_instructions: int,
    *,
    on_event: Callable[[LoopEvent], None] | None = None,
) -> RunSummary:
    """Grow the directory's dataset to ``num_instructions`` tasks, resuming what is there.

    Ctrl-C stops after the in-flight work; a second one abandons that work at once. Either way
    everything accepted so far is on disk, ``stats.json`` is written and the summary returned
    (``stop_reason`` ``"interrupted"``); only a third Ctrl-C, which stops waiting for that, raises
    ``KeyboardInterrupt``. A Ctrl-C inside ``on_event`` counts like any other.

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
                try:
                    on_event(event)
                except KeyboardInterrupt:
                    # Most Ctrl-Cs land here, in the progress display, not in the wait.
                    events.interrupt()
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
    directory = RunDirectory(out_dir)
    resume = directory.prepare(run_settings(pipeline, num_instructions))
    state = pipeline.new_state(resume.tasks)
    state.budget.stop = stop
    remaining = num_instructions - len(resume.tasks)

    def finish() -> None:
        directory.write_stats(_stats_record(state.stats, len(resume.tasks)))
        summary.append(
            RunSummary(
                out_dir,
                state.stats,
                len(resume.tasks),
                resume.torn_bytes,
                target=num_instructions,
                max_stalled_rounds=pipeline.max_stalled_rounds,
                tokenizer=pipeline.effective_tokenizer,
            )
        )

    with directory:
        try:
            if remaining > 0:
                async for event in pipeline.events(remaining, state):
                    if isinstance(event, Accepted):
                        directory.append_task(event.task)
                    elif isinstance(event, Rejected):
                        directory.append_reject(event.record.to_dict())
                    elif isinstance(event, RoundFinished):
                        directory.write_stats(_stats_record(state.stats, len(resume.tasks)))
                    yield event
            else:
                state.stats.stop_reason = "target"
                # No model call, but the cost must still say whether the price is known.
                state.budget.account(state.stats)
        except asyncio.CancelledError:
            # A second Ctrl-C (or a cancelled task): the work in flight is abandoned, but what
            # is on disk is described as truthfully as after the first.
            state.stats.stop_reason = state.stats.stop_reason or "interrupted"
            state.budget.account(state.stats)
            finish()
            raise
        finish()


def _stats_record(stats: RunStats, resumed: int) -> dict[str, Any]:
    return {**stats.to_dict(), "resumed_tasks": resumed, "total_tasks": resumed + stats.accepted}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
