"""One model on three OpenAI-compatible servers, through the real OpenAI client: one dies mid-run.

The router (``resolve_endpoints``, as ``--base-url`` given three times) spreads the calls over
the three local servers; once a third of the target is accepted the second server is stopped.
The run must still reach its target with no duplicate, and the calls the dead server would have
taken must have gone to the other two, as the per-endpoint counts in ``stats.json`` show.
"""

from __future__ import annotations

import asyncio
import json
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from langchain_selfinstruct import SelfInstructPipeline
from langchain_selfinstruct.endpoints import resolve_endpoints
from langchain_selfinstruct.pipeline import Accepted, LoopEvent
from langchain_selfinstruct.routing import EndpointCounts, ModelRouter

pytest.importorskip("uvicorn", reason='needs the server extra: pip install ".[server]"')
pytest.importorskip("starlette", reason='needs the server extra: pip install ".[server]"')

from tests.integration_tests.servers.fault_server import FaultPlan, FaultServer

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

TARGET = 60
KILL_AFTER = 12
BENCH_S = 0.2  # short, so the dead server is probed again (and benched again) within the run
CONCURRENCY = 6
DEADLINE_S = 120.0


def _answered(counts: EndpointCounts) -> int:
    return counts.requests - counts.errors


async def test_three_servers_one_killed_mid_run_the_others_take_its_share(
    tmp_path: Path,
) -> None:
    with ExitStack() as stack:
        servers = [
            stack.enter_context(FaultServer(FaultPlan(latency_s=0.02), answers_seed=seed))
            for seed in range(3)
        ]
        names = [server.base_url for server in servers]
        router = resolve_endpoints(
            "canned",
            base_urls=names,
            completion=True,
            api_key="sk-endpoint-test-key",
            timeout=2.0,
            max_retries=1,
            router_options={"bench_s": BENCH_S},
        )
        assert isinstance(router, ModelRouter)
        dead = servers[1]
        at_kill: dict[str, Any] = {}

        def on_event(event: LoopEvent) -> None:
            if isinstance(event, Accepted) and not at_kill:
                accepted = sum(1 for line in (tmp_path / "tasks.jsonl").open()) + 1
                if accepted >= KILL_AFTER:
                    at_kill["counts"] = router.counts()
                    at_kill["requests"] = len(dead.requests)
                    # Stopping waits for its thread: not on the event loop.
                    threading.Thread(target=dead.__exit__, args=(None, None, None)).start()

        pipeline = SelfInstructPipeline(router, preset="fast", max_concurrency=CONCURRENCY, seed=0)
        summary = await asyncio.wait_for(
            pipeline.arun(tmp_path, TARGET, on_event=on_event), timeout=DEADLINE_S
        )
        final = router.counts()
        dead_requests_seen = len(dead.requests)

    stats = summary.stats
    assert at_kill, "the run ended before the kill"
    # The run completes: the target, consecutive ids, no duplicate instruction.
    assert stats.stop_reason == "target"
    tasks = [json.loads(line) for line in (tmp_path / "tasks.jsonl").read_text().splitlines()]
    assert [task["id"] for task in tasks] == [f"machine_task_{i}" for i in range(TARGET)]
    assert len({task["instruction"] for task in tasks}) == TARGET
    assert sum(stats.failures.values()) == 0  # every call the dead server failed went elsewhere

    # stats.json has the per-endpoint counts, by URL, adding up to every model call.
    recorded = json.loads((tmp_path / "stats.json").read_text())["endpoints"]
    assert sorted(recorded) == sorted(names)
    assert {name: recorded[name]["requests"] for name in names} == {
        name: final[name].requests for name in names
    }
    assert sum(n["requests"] for n in recorded.values()) == stats.model_calls + stats.model_errors
    dead_name = names[1]
    assert recorded[dead_name]["errors"] >= 1
    assert recorded[dead_name]["benches"] >= 2  # probed after its bench, and benched again
    assert recorded[dead_name]["benched_s"] > 0
    assert all(recorded[name]["errors"] == 0 for name in names if name != dead_name)

    # Before the kill the three shared the work; after it, the other two took the dead one's
    # share: it answered only what it had in flight when it was stopped.
    before = {name: _answered(at_kill["counts"][name]) for name in names}
    after = {name: _answered(final[name]) - before[name] for name in names}
    assert all(count >= sum(before.values()) / 5 for count in before.values()), before
    assert after[dead_name] <= CONCURRENCY
    assert dead_requests_seen - at_kill["requests"] <= CONCURRENCY
    live_after = [after[name] for name in names if name != dead_name]
    assert all(count > after[dead_name] for count in live_after), after
    assert sum(live_after) >= 0.85 * sum(after.values()), after
