"""Running the loop into a directory: files, counters, resume, summary, async parity, Ctrl-C."""

from __future__ import annotations

import asyncio
import itertools
import json
import queue
import threading
import time
import types
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from langchain_core.outputs import LLMResult
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langchain_selfinstruct import FakeSelfInstructLLM, SelfInstructPipeline, _sync, load_seed_tasks
from langchain_selfinstruct.dedup import NearDuplicateIndex
from langchain_selfinstruct.pipeline import Accepted, LoopEvent, Rejected, RoundFinished
from langchain_selfinstruct.runner import (
    RunSummary,
    arun_to_directory,
    run_settings,
    run_to_directory,
)
from langchain_selfinstruct.schema import load_tasks
from langchain_selfinstruct.stats import RunStats

FILES = ["rejects.jsonl", "settings.json", "stats.json", "tasks.jsonl"]


def _pipeline(**kwargs: Any) -> SelfInstructPipeline:
    # Garbage answers and duplicates exercise every counter: rejects, failures, retries.
    llm = FakeSelfInstructLLM(garbage_rate=0.3, duplicate_rate=0.2, blacklisted_rate=0.1)
    return SelfInstructPipeline(llm, max_concurrency=kwargs.pop("max_concurrency", 4), **kwargs)


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _content(out: Path) -> list[tuple[Any, ...]]:
    return [
        (t.id, t.instruction, t.is_classification, [i.model_dump() for i in t.instances])
        for t in load_tasks(out / "tasks.jsonl")
    ]


def test_run_writes_the_files_and_stats_match_the_rejects_file(tmp_path: Path) -> None:
    summary = run_to_directory(_pipeline(), tmp_path / "out", 12)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == FILES
    tasks = load_tasks(out / "tasks.jsonl")
    assert [t.id for t in tasks] == [f"machine_task_{i}" for i in range(12)]
    stats = json.loads((out / "stats.json").read_text())
    rejects = _records(out / "rejects.jsonl")
    failed = [r for r in rejects if r["reason"] == "step_failed"]
    assert stats["rejected"] == dict(Counter(r["reason"] for r in rejects if r not in failed))
    assert stats["failures"] == dict(Counter(r["stage"] for r in failed))
    assert sum(stats["rejected"].values()) > 0
    assert stats["accepted"] == stats["total_tasks"] == len(tasks) == 12
    assert stats["instances_kept"] == sum(len(t.instances) for t in tasks)
    assert stats["stop_reason"] == "target"
    assert stats == {**summary.stats.to_dict(), "resumed_tasks": 0, "total_tasks": 12}


def test_settings_hold_what_resume_needs_and_no_credentials(tmp_path: Path) -> None:
    run_to_directory(_pipeline(seed=3), tmp_path, 2)
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["seed"] == 3
    assert settings["num_instructions"] == 2
    assert settings["seed_tasks_count"] == 175
    assert len(settings["seed_tasks_sha256"]) == len(settings["preset_sha256"]) == 64


def test_settings_never_contain_the_api_key_or_url_credentials() -> None:
    secret, password = "sk-test-DO-NOT-LEAK-0123456789", "hunter2-pw"
    llm = ChatOpenAI(
        model="gpt-4o-mini",
        api_key=SecretStr(secret),
        base_url=f"http://user:{password}@127.0.0.1:9/v1",
    )
    text = json.dumps(run_settings(SelfInstructPipeline(llm), 10))
    assert secret not in text
    assert password not in text
    assert "sk-" not in text


def test_resume_to_a_larger_target_keeps_the_first_tasks_byte_identical(tmp_path: Path) -> None:
    first = run_to_directory(_pipeline(), tmp_path, 6)
    before = (tmp_path / "tasks.jsonl").read_bytes()
    second = run_to_directory(_pipeline(), tmp_path, 10)
    after = (tmp_path / "tasks.jsonl").read_bytes()
    assert after.startswith(before)
    tasks = load_tasks(tmp_path / "tasks.jsonl")
    assert [t.id for t in tasks] == [f"machine_task_{i}" for i in range(10)]
    assert len({t.instruction for t in tasks}) == 10
    assert (first.resumed_tasks, first.stats.accepted) == (0, 6)
    assert (second.resumed_tasks, second.stats.accepted, second.total_tasks) == (6, 4, 10)
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert (stats["resumed_tasks"], stats["accepted"], stats["total_tasks"]) == (6, 4, 10)


def test_machine_tasks_from_the_earlier_session_join_the_prompts(tmp_path: Path) -> None:
    run_to_directory(_pipeline(), tmp_path, 4)
    run_to_directory(_pipeline(), tmp_path, 8)
    later = load_tasks(tmp_path / "tasks.jsonl")[4:]
    assert any(pid.startswith("machine_task_") for t in later for pid in (t.prompt_task_ids or []))


def test_a_target_already_reached_does_nothing(tmp_path: Path) -> None:
    run_to_directory(_pipeline(), tmp_path, 6)
    before = (tmp_path / "tasks.jsonl").read_bytes()
    rejects_before = (tmp_path / "rejects.jsonl").read_bytes()
    summary = run_to_directory(_pipeline(), tmp_path, 3)
    assert summary.stats.stop_reason == "target"
    assert (summary.stats.accepted, summary.stats.model_calls) == (0, 0)
    assert (summary.resumed_tasks, summary.total_tasks) == (6, 6)
    assert (tmp_path / "tasks.jsonl").read_bytes() == before
    assert (tmp_path / "rejects.jsonl").read_bytes() == rejects_before


def test_summary_fields_and_torn_line_report(tmp_path: Path) -> None:
    run_to_directory(_pipeline(), tmp_path, 3)
    with (tmp_path / "tasks.jsonl").open("ab") as handle:
        handle.write(b'{"id": "machine_task_3", "instr')
    summary = run_to_directory(_pipeline(), tmp_path / ".", 5)
    assert isinstance(summary, RunSummary)
    assert isinstance(summary.stats, RunStats)
    assert summary.out_dir == tmp_path / "."
    assert summary.torn_bytes == len(b'{"id": "machine_task_3", "instr')
    assert (summary.resumed_tasks, summary.stats.accepted, summary.total_tasks) == (3, 2, 5)
    assert [t.id for t in load_tasks(tmp_path / "tasks.jsonl")][-2:] == [
        "machine_task_3",
        "machine_task_4",
    ]
    assert summary.stats.rounds >= 1
    assert summary.stats.model_calls > 0
    assert summary.stats.elapsed_s > 0


def test_events_reach_the_calling_thread_and_match_the_files(tmp_path: Path) -> None:
    events: list[LoopEvent] = []
    threads: set[int] = set()

    def on_event(event: LoopEvent) -> None:
        threads.add(threading.get_ident())
        events.append(event)

    summary = run_to_directory(_pipeline(), tmp_path, 7, on_event=on_event)
    assert threads == {threading.get_ident()}
    accepted = [e.task.id for e in events if isinstance(e, Accepted)]
    assert accepted == [t.id for t in load_tasks(tmp_path / "tasks.jsonl")]
    emitted = [e.record.to_dict() for e in events if isinstance(e, Rejected)]
    assert json.loads(json.dumps(emitted, default=str)) == _records(tmp_path / "rejects.jsonl")
    assert sum(isinstance(e, RoundFinished) for e in events) == summary.stats.rounds
    assert isinstance(events[-1], RoundFinished)


async def test_async_run_writes_the_same_dataset(tmp_path: Path) -> None:
    sync_summary = run_to_directory(_pipeline(seed=5), tmp_path / "sync", 9)
    async_summary = await arun_to_directory(_pipeline(seed=5), tmp_path / "async", 9)
    assert _content(tmp_path / "sync") == _content(tmp_path / "async")
    assert _records(tmp_path / "sync" / "rejects.jsonl") == _records(
        tmp_path / "async" / "rejects.jsonl"
    )
    sync_stats, async_stats = sync_summary.stats.to_dict(), async_summary.stats.to_dict()
    sync_stats.pop("elapsed_s")
    async_stats.pop("elapsed_s")
    assert sync_stats == async_stats
    assert (tmp_path / "sync" / "settings.json").read_bytes() == (
        tmp_path / "async" / "settings.json"
    ).read_bytes()


class _CtrlCQueue(queue.Queue[tuple[str, Any]]):
    """Raises one KeyboardInterrupt from ``get`` once ``after`` items were delivered."""

    after = 0

    def __init__(self) -> None:
        super().__init__()
        self.delivered = 0
        self.interrupted = False

    def get(self, block: bool = True, timeout: float | None = None) -> tuple[str, Any]:
        if not self.interrupted and self.delivered >= self.after:
            self.interrupted = True
            raise KeyboardInterrupt
        item = super().get(block, timeout)
        self.delivered += 1
        return item


def _ctrl_c_after(monkeypatch: pytest.MonkeyPatch, items: int) -> None:
    cls = type("Q", (_CtrlCQueue,), {"after": items})
    monkeypatch.setattr(_sync, "queue", types.SimpleNamespace(Queue=cls, Empty=queue.Empty))


HUNG = threading.Event()
"""Set once :class:`HangsMidRun` hangs; :class:`_CtrlCTwiceWhenHung` then presses Ctrl-C."""


class HangsMidRun(FakeSelfInstructLLM):
    """The fake model; from its 30th call on, calls (those in flight too) hang for up to 30 s."""

    calls: ClassVar[Iterator[int]] = itertools.count()

    async def _agenerate(self, prompts: list[str], *args: Any, **kwargs: Any) -> LLMResult:
        if next(self.calls) >= 30:
            HUNG.set()
        for _ in range(3000):
            await asyncio.sleep(0.01)
            if not HUNG.is_set():
                break
        return await super()._agenerate(prompts, *args, **kwargs)


class _CtrlCWhenHung(queue.Queue[tuple[str, Any]]):
    """Presses Ctrl-C ``presses`` times (KeyboardInterrupts from ``get``) once the model hangs."""

    presses = 2

    def __init__(self) -> None:
        super().__init__()
        self.interrupts = 0

    def get(self, block: bool = True, timeout: float | None = None) -> tuple[str, Any]:
        if HUNG.is_set() and self.interrupts < self.presses:
            self.interrupts += 1
            raise KeyboardInterrupt
        return super().get(block, timeout)


def _ctrl_c_when_the_model_hangs(monkeypatch: pytest.MonkeyPatch, presses: int = 2) -> None:
    HUNG.clear()
    monkeypatch.setattr(HangsMidRun, "calls", itertools.count())
    cls = type("Q", (_CtrlCWhenHung,), {"presses": presses})
    monkeypatch.setattr(_sync, "queue", types.SimpleNamespace(Queue=cls, Empty=queue.Empty))


@pytest.mark.parametrize("after", [1, 25])
def test_ctrl_c_mid_run_finishes_work_in_flight_and_keeps_every_accepted_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: int
) -> None:
    _ctrl_c_after(monkeypatch, after)
    summary = run_to_directory(_pipeline(max_concurrency=2), tmp_path, 500)
    assert summary.stats.stop_reason == "interrupted"
    assert summary.stats.rounds >= 1
    assert summary.stats.accepted < 500
    lines = (tmp_path / "tasks.jsonl").read_text().splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    assert ids == [f"machine_task_{i}" for i in range(summary.stats.accepted)]
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert (stats["stop_reason"], stats["rounds"]) == ("interrupted", summary.stats.rounds)


def test_ctrl_c_before_the_first_round_calls_no_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ctrl_c_after(monkeypatch, 0)
    summary = run_to_directory(_pipeline(), tmp_path, 500)
    assert summary.stats.stop_reason == "interrupted"
    assert (summary.stats.rounds, summary.stats.accepted, summary.stats.model_calls) == (0, 0, 0)
    assert (tmp_path / "tasks.jsonl").read_bytes() == b""


def test_a_callers_empty_index_is_the_one_filled_and_used(tmp_path: Path) -> None:
    index = NearDuplicateIndex(tokenizer="unicode")
    summary = run_to_directory(_pipeline(index=index), tmp_path, 5)
    # Every kept candidate joins the index when filtered, before its instances exist.
    assert len(index) >= len(load_seed_tasks()) + summary.stats.accepted
    assert set(index.texts) >= {t.instruction for t in load_tasks(tmp_path / "tasks.jsonl")}


class _HugeOutputs(FakeSelfInstructLLM):
    """Answers every third instance prompt with a 2 MB output, as a runaway model might."""

    def respond(self, prompt: str) -> str:
        text = super().respond(prompt)
        if "\nOutput: " in text and len(prompt) % 3 == 0:
            return text.replace("\nOutput: ", "\nOutput: " + "word " * 400_000, 1)
        return text


def test_an_oversize_task_is_a_counted_reject_and_the_directory_stays_readable(
    tmp_path: Path,
) -> None:
    from langchain_selfinstruct.export import export_run
    from langchain_selfinstruct.schema import MAX_LINE_BYTES

    pipeline = SelfInstructPipeline(_HugeOutputs(), max_concurrency=2)
    summary = run_to_directory(pipeline, tmp_path / "run", 12)
    run = tmp_path / "run"
    too_large = [r for r in _records(run / "rejects.jsonl") if r["reason"] == "task:too_large"]
    assert too_large, "the scripted model never produced an oversize task"
    assert summary.stats.rejected["task:too_large"] == len(too_large)
    assert summary.stats.accepted == 12
    for record in too_large:
        assert record["stage"] == "filter_instances"
        assert record["detail"]["limit"] == MAX_LINE_BYTES
        assert record["detail"]["line_bytes"] > MAX_LINE_BYTES
        cut = [i["output"] for i in record["instances"] if "… [truncated: " in i["output"]]
        assert cut, record["truncated"]
        assert all(text.endswith(" chars]") for text in cut)
    sizes = [len(line) for line in (run / "rejects.jsonl").read_bytes().splitlines()]
    assert max(sizes) <= MAX_LINE_BYTES
    assert max(len(line) for line in (run / "tasks.jsonl").read_bytes().splitlines()) <= (
        MAX_LINE_BYTES
    )
    # Everything that reads the directory still does: resume, load, export.
    assert len(load_tasks(run / "tasks.jsonl")) == 12
    again = run_to_directory(SelfInstructPipeline(_HugeOutputs(), max_concurrency=2), run, 13)
    assert again.total_tasks == 13
    assert export_run(run, "alpaca", tmp_path / "a.json").counts["tasks"] == 13


def test_a_second_ctrl_c_abandons_the_work_in_flight_but_keeps_tasks_and_stats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ctrl_c_when_the_model_hangs(monkeypatch)
    pipeline = SelfInstructPipeline(HangsMidRun(), max_concurrency=2)
    started = time.monotonic()
    summary = run_to_directory(pipeline, tmp_path, 500)
    # The calls in flight hang for 30 s: only cancelling them ends the run this soon.
    assert time.monotonic() - started < 10
    assert summary.stats.stop_reason == "interrupted"
    ids = [t.id for t in load_tasks(tmp_path / "tasks.jsonl")]
    assert ids == [f"machine_task_{i}" for i in range(summary.stats.accepted)]
    assert ids, "the run was interrupted before it accepted a task"
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats == {**summary.stats.to_dict(), "resumed_tasks": 0, "total_tasks": len(ids)}
    assert stats["model_calls"] > 0
    # The directory resumes as after any stop.
    monkeypatch.undo()
    HUNG.clear()
    resumed = run_to_directory(pipeline, tmp_path, len(ids) + 2)
    assert (resumed.resumed_tasks, resumed.total_tasks) == (len(ids), len(ids) + 2)


def test_a_ctrl_c_inside_the_event_callback_stops_the_run_like_any_other(
    tmp_path: Path,
) -> None:
    seen: list[LoopEvent] = []

    def on_event(event: LoopEvent) -> None:
        seen.append(event)
        if len(seen) == 10:
            raise KeyboardInterrupt

    summary = run_to_directory(_pipeline(max_concurrency=2), tmp_path, 500, on_event=on_event)
    assert summary.stats.stop_reason == "interrupted"
    assert summary.stats.accepted == len(load_tasks(tmp_path / "tasks.jsonl"))
    assert json.loads((tmp_path / "stats.json").read_text())["stop_reason"] == "interrupted"
