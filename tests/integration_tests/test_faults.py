"""The loop against a misbehaving OpenAI-compatible server, through the real OpenAI clients.

Where retries live, and why the request count is bounded:

* transport failures (429, 5xx, timeouts, broken connections) are retried by the OpenAI SDK inside
  one model call, at most ``max_retries`` times (3, set by ``resolve_model``), honouring
  ``Retry-After``; a model call therefore sends at most ``SDK_RETRIES + 1`` requests;
* unusable answers (empty, absurd, unparseable) are resampled by the step, at most
  ``GenerativeStep.max_retries`` times (2), so a step makes at most ``STEP_RETRIES + 1`` calls;
* anything else (malformed JSON, retries exhausted) fails the step: the loop never retries it but
  counts it (``failures``, ``model_errors``), writes a ``step_failed`` record and goes on.

So one step sends at most ``(SDK_RETRIES + 1) * (STEP_RETRIES + 1)`` requests. The server records
every request with the SDK's ``x-stainless-retry-count`` header, which lets the tests check the
counters exactly.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from langchain_selfinstruct import SelfInstructPipeline
from langchain_selfinstruct.models import DEFAULT_MAX_RETRIES, resolve_model
from langchain_selfinstruct.pipeline import Accepted, LoopEvent
from langchain_selfinstruct.runner import RunSummary
from langchain_selfinstruct.steps import InstructionGenerator
from tests.integration_tests.conftest import assert_every_candidate_is_accounted_for

pytest.importorskip("uvicorn", reason='needs the server extra: pip install ".[server]"')
pytest.importorskip("starlette", reason='needs the server extra: pip install ".[server]"')

from tests.integration_tests.servers.fault_server import (
    TRANSPORT_FAULTS,
    FaultKind,
    FaultPlan,
    FaultServer,
    RecordedRequest,
)

# Any connection to somewhere other than the local server fails the test.
pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

SDK_RETRIES = DEFAULT_MAX_RETRIES
STEP_RETRIES = InstructionGenerator.model_fields["max_retries"].default
TIMEOUT_S = 2.0
RUN_DEADLINE_S = 120.0
TARGET = 12

# 30% of requests fail, in every way a server can; the first few fail once in each way.
RATES: dict[FaultKind, float] = {
    "rate_limit": 0.06,
    "server_error": 0.04,
    "unavailable": 0.04,
    "hang": 0.03,
    "disconnect": 0.04,
    "malformed_json": 0.03,
    "empty": 0.03,
    "absurd": 0.03,
}
THIRTY_PERCENT = FaultPlan(
    rates=RATES,
    first=tuple(RATES),
    seed=7,
    retry_after_s=1,
    hang_s=3 * TIMEOUT_S,
)

FaultServerFactory = Callable[[FaultPlan], FaultServer]


def _pipeline(server: FaultServer, *, completion: bool, **kwargs: Any) -> SelfInstructPipeline:
    llm = resolve_model(
        "canned",
        base_url=server.base_url,
        completion=completion,
        api_key="sk-fault-test-key",
        timeout=TIMEOUT_S,
    )
    options: dict[str, Any] = {"preset": "fast", "max_concurrency": 8, "seed": 0, **kwargs}
    return SelfInstructPipeline(llm, **options)


async def _run(
    pipeline: SelfInstructPipeline, out: Path, target: int
) -> tuple[RunSummary, list[LoopEvent]]:
    events: list[LoopEvent] = []
    summary = await asyncio.wait_for(
        pipeline.arun(out, target, on_event=events.append), timeout=RUN_DEADLINE_S
    )
    return summary, events


def _lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return [json.loads(line) for line in text.splitlines()]


def _failed_calls(requests: list[RecordedRequest]) -> int:
    """Model calls the client saw fail: a fault the SDK does not retry, or its last retry."""
    return sum(
        request.fault == "malformed_json"
        or (request.fault in TRANSPORT_FAULTS and request.retry_count == SDK_RETRIES)
        for request in requests
    )


@pytest.mark.parametrize("completion", [True, False], ids=["completions", "chat"])
async def test_30_percent_faults_still_reach_the_target_with_every_failure_counted(
    fault_server: FaultServerFactory, tmp_path: Path, completion: bool
) -> None:
    server = fault_server(THIRTY_PERCENT)
    summary, events = await _run(_pipeline(server, completion=completion), tmp_path, TARGET)
    stats, requests = summary.stats, server.requests

    # The server really misbehaved, in every way, about as often as planned.
    assert {r.fault for r in requests} - {None} == set(RATES)
    sampled = requests[len(RATES) :]
    assert 0.15 <= sum(r.fault is not None for r in sampled) / len(sampled) <= 0.45
    assert {r.endpoint for r in requests} == {"completions" if completion else "chat"}

    # The target is reached; nothing accepted is lost or written twice.
    assert stats.stop_reason == "target"
    tasks = _lines(tmp_path / "tasks.jsonl")
    accepted = [event.task for event in events if isinstance(event, Accepted)]
    assert [task["id"] for task in tasks] == [f"machine_task_{i}" for i in range(TARGET)]
    assert [task["instruction"] for task in tasks] == [task.instruction for task in accepted]
    assert len({task["instruction"] for task in tasks}) == TARGET
    assert all(task["instances"] for task in tasks)
    assert summary.total_tasks == stats.accepted == TARGET

    # Every model call is accounted for: each one's first request carries retry count 0, it
    # succeeded exactly when its last request got a usable answer, and failed otherwise.
    answered = sum(r.fault in (None, "empty", "absurd") for r in requests)
    assert stats.model_calls == answered
    assert stats.model_errors == _failed_calls(requests)
    assert stats.model_errors > 0
    assert sum(r.retry_count == 0 for r in requests) == stats.model_calls + stats.model_errors

    # Every failed step and every rejection is counted and written down with its reason.
    rejects = _lines(tmp_path / "rejects.jsonl")
    step_failures = [record for record in rejects if record["reason"] == "step_failed"]
    # Whether some step exhausts its retries is chance here: which request draws which fault
    # depends on the timing of 8 calls in flight. The golden runs and test_runner pin that path.
    assert len(step_failures) == sum(stats.failures.values())
    assert all(record["error"] and record["stage"] in stats.failures for record in step_failures)
    filtered = Counter(record["reason"] for record in rejects if record["reason"] != "step_failed")
    assert filtered == stats.rejected
    stats_file = json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))
    assert stats_file["model_errors"] == stats.model_errors
    assert stats_file["failures"] == dict(stats.failures)
    assert_every_candidate_is_accounted_for(stats_file)

    # Retries stay within their bounds.
    assert max(r.retry_count for r in requests) <= SDK_RETRIES
    assert len(requests) <= (SDK_RETRIES + 1) * (stats.model_calls + stats.model_errors)
    per_body = Counter(r.body_sha256 for r in requests)
    calls_per_body = Counter(r.body_sha256 for r in requests if r.retry_count == 0)
    assert max(per_body.values()) <= (SDK_RETRIES + 1) * (STEP_RETRIES + 1)
    assert max(calls_per_body.values()) <= STEP_RETRIES + 1


async def test_the_client_waits_as_long_as_retry_after_asks(
    fault_server: FaultServerFactory, tmp_path: Path
) -> None:
    server = fault_server(FaultPlan(rates={"rate_limit": 0.5}, seed=3, retry_after_s=1))
    summary, _ = await _run(_pipeline(server, completion=True), tmp_path, 3)
    assert summary.stats.stop_reason == "target"
    by_body: dict[str, list[RecordedRequest]] = {}
    for request in server.requests:
        by_body.setdefault(request.body_sha256, []).append(request)
    gaps = [
        later.received_at - earlier.received_at
        for attempts in by_body.values()
        for earlier, later in itertools.pairwise(attempts)
        if earlier.fault == "rate_limit" and later.retry_count == earlier.retry_count + 1
    ]
    assert gaps
    assert min(gaps) >= 0.9  # Retry-After: 1, where the SDK's own backoff would start at 0.5 s


async def test_a_server_that_always_fails_stops_the_run_after_a_bounded_number_of_requests(
    fault_server: FaultServerFactory, tmp_path: Path
) -> None:
    server = fault_server(FaultPlan(rates={"unavailable": 1.0}))
    pipeline = _pipeline(server, completion=True, max_concurrency=3, max_stalled_rounds=1)
    summary, _ = await _run(pipeline, tmp_path, 10)
    stats = summary.stats
    assert stats.stop_reason == "stalled"
    assert stats.accepted == 0
    # One round of three instruction prompts is committed. Slots freed meanwhile started at
    # most one round more (the sampling lag), whose calls were awaited and counted.
    committed = 3
    assert stats.rounds == 1
    assert stats.failures == Counter({"generate_instructions": committed})
    assert stats.model_calls == 0
    assert committed <= stats.model_errors <= 2 * committed
    # Each call was retried exactly SDK_RETRIES times, then counted once as an error.
    assert len(server.requests) == stats.model_errors * (SDK_RETRIES + 1)
    assert sorted(r.retry_count for r in server.requests) == sorted(
        list(range(SDK_RETRIES + 1)) * stats.model_errors
    )
    assert not (tmp_path / "tasks.jsonl").read_text(encoding="utf-8")
    errors = [record["error"] for record in _lines(tmp_path / "rejects.jsonl")]
    assert len(errors) == committed
    assert all("503" in error for error in errors)


async def test_chat_requests_to_a_compatible_server_ask_for_plain_text(
    fault_server: FaultServerFactory, tmp_path: Path
) -> None:
    # Such servers differ in what structured output they accept, so the steps parse text.
    server = fault_server(FaultPlan())
    summary, _ = await _run(_pipeline(server, completion=False), tmp_path, 2)
    assert summary.stats.stop_reason == "target"
    assert summary.stats.model_errors == 0
    assert {r.endpoint for r in server.requests} == {"chat"}
    assert any("Is it a classification task?" in r.prompt for r in server.requests)
    assert all(r.parameters.isdisjoint({"response_format", "tools"}) for r in server.requests)


@pytest.mark.parametrize("completion", [True, False], ids=["completions", "chat"])
def test_back_to_back_sync_runs_reuse_the_client_without_errors(
    fault_server: FaultServerFactory, tmp_path: Path, completion: bool
) -> None:
    # langchain-openai keeps one async HTTP client per server; its pooled connections belong to
    # the event loop that opened them, so every sync run must use the same loop.
    server = fault_server(FaultPlan())
    pipeline = _pipeline(server, completion=completion, max_concurrency=4)
    for attempt in range(3):
        summary = pipeline.run(tmp_path / f"run_{attempt}", 4)
        assert summary.stats.stop_reason == "target"
        assert summary.stats.model_errors == 0
        assert not summary.stats.failures
    assert len(pipeline.invoke({"num_instructions": 2})) == 2
