"""The loop on Ray model replicas, on one real local Ray cluster (127.0.0.1) per test run.

Every test here is marked ``ray`` and shares the module's cluster (2 CPUs, no dashboard), so the
cluster starts once; each run starts (and ends) its own replicas.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner
from langchain_core.callbacks import AsyncCallbackManager, BaseCallbackHandler
from langchain_core.outputs import LLMResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run
from pydantic import SecretStr

from langchain_selfinstruct import (
    CurationRule,
    FakeSelfInstructLLM,
    SelfInstructPipeline,
    TaskReviewer,
)
from langchain_selfinstruct.cli import main
from langchain_selfinstruct.errors import ModelConfigError
from langchain_selfinstruct.loop import Accepted, Budget, LoopEvent
from langchain_selfinstruct.loop.ray_executor import REPLICA_RETRY, RayExecutor
from langchain_selfinstruct.models import _safe_url
from langchain_selfinstruct.presets import get_preset
from langchain_selfinstruct.ray_replicas import RayReplicas, StepsRecipe
from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.stats import RunStats
from tests.markers import NEEDS_LOCAL

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[ModuleType]:
    """One local Ray cluster for the module: 2 CPUs on 127.0.0.1, no dashboard."""
    ray = pytest.importorskip("ray", reason='needs the ray extra: pip install ".[ray]"')
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
    )
    yield ray
    ray.shutdown()


class _Collector(BaseTracer):
    """Keeps every finished root run (with its tree); inline, so events arrive in order."""

    run_inline = True

    def __init__(self) -> None:
        super().__init__()
        self.roots: list[Run] = []

    def _persist_run(self, run: Run) -> None:
        self.roots.append(run)


def _tree(run: Run, depth: int = 0) -> list[tuple[int, str, str]]:
    rows = [(depth, run.run_type, run.name)]
    for child in run.child_runs:
        rows.extend(_tree(child, depth + 1))
    return rows


def _rows(tasks: list[Task]) -> list[dict[str, Any]]:
    return [task.model_dump(exclude={"created_at"}) for task in tasks]


def _counts(stats: RunStats) -> dict[str, Any]:
    # Not the calls or tokens: how many surplus calls were in flight at the end is timing.
    record = stats.to_dict()
    keys = ("accepted", "rejected", "failures", "generated_instructions", "instances_kept")
    return {key: record[key] for key in keys}


def _on_ray(model: str, replicas: int = 2, **kwargs: Any) -> SelfInstructPipeline:
    options = RayReplicas(model=model, replicas=replicas)
    return SelfInstructPipeline(options.driver_model(), ray=options, **kwargs)


async def _run(
    pipeline: SelfInstructPipeline, target: int, config: RunnableConfig | None = None
) -> tuple[list[Task], RunStats]:
    state = pipeline.new_state()
    tasks = [
        event.task
        async for event in pipeline.events(target, state, config)
        if isinstance(event, Accepted)
    ]
    return tasks, state.stats


async def _traced(pipeline: SelfInstructPipeline, target: int) -> tuple[list[Task], RunStats, Run]:
    """Run under a parent run of the caller's, as the loop runs inside a user's chain."""
    tracer = _Collector()
    parent = await AsyncCallbackManager.configure([tracer]).on_chain_start({}, {}, name="caller")
    tasks, stats = await _run(pipeline, target, {"callbacks": parent.get_child()})
    await parent.on_chain_end({})
    assert len(tracer.roots) == 1, [root.name for root in tracer.roots]
    return tasks, stats, tracer.roots[0]


def _capture_executors(monkeypatch: pytest.MonkeyPatch) -> list[RayExecutor]:
    started: list[RayExecutor] = []
    start = RayReplicas.start

    async def capture(
        self: RayReplicas, steps: StepsRecipe, config: Any, budget: Budget, **options: Any
    ) -> RayExecutor:
        executor = await start(self, steps, config, budget, **options)
        started.append(executor)
        return executor

    monkeypatch.setattr(RayReplicas, "start", capture)
    return started


async def test_ray_gives_the_in_process_dataset_usage_and_trace_tree(
    ray_cluster: ModuleType,
) -> None:
    local = SelfInstructPipeline(FakeSelfInstructLLM(latency_s=0.01), max_concurrency=8)
    local_tasks, local_stats, local_root = await _traced(local, 12)
    ray_tasks, ray_stats, ray_root = await _traced(_on_ray("fake:0.01", max_concurrency=8), 12)

    assert len(ray_tasks) == 12
    assert _rows(ray_tasks) == _rows(local_tasks)
    assert _counts(ray_stats) == _counts(local_stats)
    assert ray_stats.model_calls > 0 and ray_stats.total_tokens > 0
    # One tree: the replicas' runs hang under the driver's pipeline run, each kind of run at
    # the depth it has in process, one model run per model call counted on the driver.
    ray_tree, local_tree = _tree(ray_root), _tree(local_root)
    assert ray_tree[0] == (0, "chain", "caller")
    assert set(ray_tree) == set(local_tree)
    assert (1, "chain", "self_instruct.generate_instructions") in ray_tree
    assert sum(row[1] == "llm" for row in ray_tree) == ray_stats.model_calls
    assert sum(row[1] == "llm" for row in local_tree) == local_stats.model_calls


async def test_curation_on_ray_judges_on_the_driver_as_in_process(ray_cluster: ModuleType) -> None:
    def rule() -> CurationRule:
        return CurationRule(TaskReviewer(FakeSelfInstructLLM(seed=5)))

    local = SelfInstructPipeline(
        FakeSelfInstructLLM(latency_s=0.01), max_concurrency=8, judged_rule=rule()
    )
    local_tasks, local_stats = await _run(local, 10)
    on_ray = _on_ray("fake:0.01", max_concurrency=8, judged_rule=rule())
    ray_tasks, ray_stats = await _run(on_ray, 10)

    assert len(ray_tasks) == 10
    assert _rows(ray_tasks) == _rows(local_tasks)
    assert _counts(ray_stats) == _counts(local_stats)
    assert any("judge:" in reason for reason in ray_stats.rejected), ray_stats.rejected


async def test_replicas_killed_mid_run_lose_nothing_and_their_units_are_retried(
    ray_cluster: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _capture_executors(monkeypatch)
    pipeline = _on_ray("fake:0.05", max_concurrency=8)
    state = pipeline.new_state()
    tasks: list[Task] = []
    async for event in pipeline.events(16, state):
        if isinstance(event, Accepted):
            tasks.append(event.task)
            if len(tasks) == 3:  # Ray restarts this one
                ray_cluster.kill(started[0].replicas[0], no_restart=False)
            if len(tasks) == 9:  # and not this one: the restarted one carries on alone
                ray_cluster.kill(started[0].replicas[1], no_restart=True)
    local_tasks, _ = await _run(
        SelfInstructPipeline(FakeSelfInstructLLM(latency_s=0.05), max_concurrency=8), 16
    )

    assert state.stats.fallbacks[REPLICA_RETRY] >= 2  # units in flight on each killed one
    assert state.stats.failures == Counter()
    # Nothing lost, nothing twice: the same 16 tasks as in process, each id once.
    assert _rows(tasks) == _rows(local_tasks)
    assert len({task.id for task in tasks}) == len({task.instruction for task in tasks}) == 16


async def test_stop_switch_budget_and_early_close(
    ray_cluster: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _capture_executors(monkeypatch)
    # Ctrl-C: the runner sets the stop switch; work in flight finishes and is counted.
    pipeline = _on_ray("fake:0.02", max_concurrency=4)
    state = pipeline.new_state()
    accepted = 0
    async for event in pipeline.events(40, state):
        if isinstance(event, Accepted):
            accepted += 1
            state.budget.stop.set()
    assert state.stats.stop_reason == "interrupted"
    assert 1 <= accepted < 40 and state.stats.model_calls > 0

    # A token budget is checked against the usage the replicas sent back.
    budgeted = _on_ray("fake:0.02", max_concurrency=4, max_tokens=3000)
    _, stats = await _run(budgeted, 40)
    assert stats.stop_reason == "max_tokens"
    assert stats.total_tokens >= 3000 and stats.accepted < 40

    # Leaving early cancels the units in flight and ends the replicas.
    slow = _on_ray("fake:0.3", max_concurrency=4)
    events = slow.events(40, slow.new_state())
    async for event in events:
        if isinstance(event, Accepted):
            break
    await events.aclose()
    for replica in started[-1].replicas:
        with pytest.raises(ray_cluster.exceptions.RayActorError):
            await replica.describe.remote()


class _Reports(BaseCallbackHandler):
    """Keeps what each model call's ``llm_output`` says (see ``ray_models.ReportingLLM``)."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[dict[str, Any]] = []

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self.reports.append(dict(response.llm_output or {}))


async def test_a_replica_runs_at_nice_0_with_many_calls_in_flight(ray_cluster: ModuleType) -> None:
    # At Ray's worker niceness (15) a replica starves next to any busy nice-0 process on its
    # node; benchmarks/README.md, "Ray replicas", has the numbers.
    options = RayReplicas(factory="tests.integration_tests.ray_models:reporting_model")
    pipeline = SelfInstructPipeline(options.driver_model(), ray=options, max_concurrency=16)
    reports = _Reports()
    tasks, stats = await _run(pipeline, 8, {"callbacks": [reports]})
    assert len(tasks) == 8
    assert len(reports.reports) == stats.model_calls
    assert {report["nice"] for report in reports.reports} == {0}
    # The one async replica serves the loop's calls at once, not one by one.
    assert max(report["most_in_flight"] for report in reports.reports) > 1


def test_resume_on_ray_continues_as_in_process(ray_cluster: ModuleType, tmp_path: Path) -> None:
    def grow(pipeline: SelfInstructPipeline, out: Path) -> list[dict[str, Any]]:
        pipeline.run(out, 5)
        summary = pipeline.run(out, 10)
        assert summary.resumed_tasks == 5 and summary.total_tasks == 10
        lines = (out / "tasks.jsonl").read_text(encoding="utf-8").splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "created_at"} for line in lines]

    local = grow(SelfInstructPipeline(FakeSelfInstructLLM(latency_s=0.01)), tmp_path / "local")
    on_ray = grow(_on_ray("fake:0.01"), tmp_path / "ray")
    assert on_ray == local


async def test_a_refused_key_on_a_replica_stops_the_run_with_its_cause(
    ray_cluster: ModuleType,
) -> None:
    options = RayReplicas(factory="tests.integration_tests.ray_models:refusing_model")
    pipeline = SelfInstructPipeline(options.driver_model(), ray=options, max_concurrency=2)
    tasks, stats = await _run(pipeline, 3)
    assert tasks == []
    assert stats.stop_reason == "model_error"
    assert stats.last_error == "KeyRefusedAuthenticationError: this key was revoked"
    assert stats.model_errors >= 1 and stats.failures["generate_instructions"] >= 1


async def test_clear_errors_before_the_run(ray_cluster: ModuleType) -> None:
    too_many = RayReplicas(model="fake", replicas=3, replica_cpus=1)
    pipeline = SelfInstructPipeline(too_many.driver_model(), ray=too_many)
    with pytest.raises(ModelConfigError, match=r"3 replicas need 3 CPUs; the Ray cluster has 2"):
        await _run(pipeline, 1)
    missing = RayReplicas(model="llamacpp:/nowhere/model.gguf", max_restarts=0)
    pipeline = SelfInstructPipeline(missing.driver_model(), ray=missing)
    with pytest.raises(ModelConfigError, match=r"a Ray replica could not start: .*/nowhere/model"):
        await _run(pipeline, 1)
    named_otherwise = SelfInstructPipeline(
        RayReplicas(model="fake").driver_model(),
        ray=RayReplicas(factory="tests.integration_tests.ray_models:refusing_model"),
    )
    with pytest.raises(ModelConfigError, match="the Ray replicas run 'refusing:"):
        await _run(named_otherwise, 1)


async def test_several_servers_every_replica_routes_over_all_and_one_dies(
    ray_cluster: ModuleType, tmp_path: Path
) -> None:
    pytest.importorskip("uvicorn", reason='needs the server extra: pip install ".[server]"')
    from tests.integration_tests.servers.fault_server import FaultPlan, FaultServer

    target, kill_after, concurrency = 24, 8, 6
    servers = [FaultServer(FaultPlan(latency_s=0.02), answers_seed=seed) for seed in range(3)]
    for server in servers:
        server.__enter__()
    try:
        urls = [_safe_url(server.base_url) for server in servers]  # unreadable once stopped
        options = RayReplicas(
            model="canned",
            base_urls=tuple(server.base_url for server in servers),
            completion=True,
            api_key=SecretStr("sk-ray-endpoints-key"),
            replicas=2,
            model_kwargs={"timeout": 2.0, "max_retries": 1},
        )
        pipeline = SelfInstructPipeline(
            options.driver_model(), ray=options, preset="fast", max_concurrency=concurrency
        )
        dead, seen_at_kill = servers[1], [len(server.requests) for server in servers]
        accepted = [0]

        def on_event(event: LoopEvent) -> None:
            if isinstance(event, Accepted):
                accepted[0] += 1
                if accepted[0] == kill_after:
                    seen_at_kill[:] = [len(server.requests) for server in servers]
                    threading.Thread(target=dead.__exit__, args=(None, None, None)).start()

        summary = await asyncio.wait_for(pipeline.arun(tmp_path, target, on_event=on_event), 180)
    finally:
        for server in servers:
            if server is not dead:
                server.__exit__(None, None, None)

    assert summary.stats.stop_reason == "target" and summary.stats.failures == Counter()
    tasks = [json.loads(line) for line in (tmp_path / "tasks.jsonl").read_text().splitlines()]
    assert [task["id"] for task in tasks] == [f"machine_task_{i}" for i in range(target)]
    assert len({task["instruction"] for task in tasks}) == target
    # Two replicas, three servers, and all three served before the kill: each replica routes
    # over every server (one server per replica would have left one idle).
    assert all(seen > 0 for seen in seen_at_kill), seen_at_kill
    after = [
        len(server.requests) - seen for server, seen in zip(servers, seen_at_kill, strict=True)
    ]
    assert after[1] <= concurrency  # at most what was in flight at the kill
    assert after[0] > after[1] and after[2] > after[1], after
    keys = {request.authorization for server in servers for request in server.requests}
    assert keys == {"Bearer sk-ray-endpoints-key"}
    # Each replica's router counts come back with its replies and are summed by server.
    endpoints = json.loads((tmp_path / "stats.json").read_text())["endpoints"]
    assert sorted(endpoints) == sorted(urls)
    served = [endpoints[url]["requests"] for url in urls]
    assert sum(served) >= summary.stats.model_calls  # a fail-over is a request of its own
    assert served[0] > served[1] and served[2] > served[1], endpoints
    assert endpoints[urls[1]]["errors"] > 0  # the stopped one


def test_cli_generates_on_ray_replicas(ray_cluster: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = ["generate", "-n", "4", "--out", str(out), "-m", "fake:0.01", "--quiet"]
    result = CliRunner().invoke(main, [*command, "--ray", "local", "--replicas", "2", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["accepted"] == 4 and record["model_calls"] > 0
    assert len((out / "tasks.jsonl").read_text(encoding="utf-8").splitlines()) == 4


@NEEDS_LOCAL
async def test_embedded_model_on_two_single_thread_replicas(ray_cluster: ModuleType) -> None:
    options = RayReplicas(model="embedded", replicas=2, replica_cpus=1)
    pipeline = SelfInstructPipeline(
        options.driver_model(), ray=options, preset=get_preset("fast"), max_concurrency=2
    )
    tasks, stats = await asyncio.wait_for(_run(pipeline, 2), 300)
    assert len(tasks) == 2
    assert {task.model for task in tasks} == {"embedded:SmolLM2-135M-Instruct"}
    assert all(task.instances for task in tasks)
    assert stats.model_calls >= 4 and stats.completion_tokens > 0
