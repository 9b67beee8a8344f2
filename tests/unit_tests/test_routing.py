"""The router over model replicas: least loaded first, benching and re-probing, no replica left."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.language_models import BaseLLM
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from pydantic import ConfigDict

from langchain_selfinstruct import SelfInstructPipeline
from langchain_selfinstruct.errors import NoReplicaAvailableError, is_fatal_model_error
from langchain_selfinstruct.fake import FakeSelfInstructLLM
from langchain_selfinstruct.routing import EndpointCounts, ModelRouter, counts_since
from langchain_selfinstruct.steps import InstructionGenerator
from langchain_selfinstruct.steps.model_setup import configure_model
from langchain_selfinstruct.unwrap import find, leaves, primary, rebuild


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Server:
    """What a fake replica's server does: up or down, how busy it is, what it answered."""

    def __init__(self, name: str, latency_s: float = 0.0) -> None:
        self.name = name
        self.latency_s = latency_s
        self.down = False
        self.error: Exception = ConnectionRefusedError(f"{name} refused the connection")
        self.calls = 0
        self.in_flight = 0
        self.peak = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.release.set()

    def enter(self) -> None:
        with self.lock:
            self.calls += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def leave(self) -> str:
        with self.lock:
            self.in_flight -= 1
        if self.down:
            raise self.error
        return self.name


class Replica(RunnableSerializable[Any, str]):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    server: Server

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> str:
        self.server.enter()
        self.server.release.wait(5)
        return self.server.leave()

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> str:
        self.server.enter()
        await asyncio.sleep(self.server.latency_s)
        return self.server.leave()

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[str]:
        self.server.enter()
        result = self.server.leave()
        yield result
        yield "!"


def router_over(*servers: Server, clock: FakeClock | None = None, **options: Any) -> ModelRouter:
    return ModelRouter(
        replicas=[Replica(server=server) for server in servers],
        names=[server.name for server in servers],
        clock=clock or FakeClock(),
        **options,
    )


# -- choice ------------------------------------------------------------------------------------


def test_sequential_calls_take_turns() -> None:
    a, b, c = Server("a"), Server("b"), Server("c")
    router = router_over(a, b, c)
    assert [router.invoke("x") for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]
    assert {name: n.requests for name, n in router.counts().items()} == {"a": 2, "b": 2, "c": 2}


async def test_calls_go_to_the_replica_with_the_fewest_in_flight() -> None:
    slow, fast = Server("slow", latency_s=1.0), Server("fast", latency_s=0.001)
    router = router_over(slow, fast)
    slow_first = asyncio.ensure_future(router.ainvoke("x"))  # first in turn: goes to slow
    await asyncio.sleep(0)
    # While slow holds that call, every call (turn or not) goes to the idle replica.
    answers = [await router.ainvoke("x") for _ in range(10)]
    assert answers == ["fast"] * 10
    assert await slow_first == "slow"
    assert slow.calls == 1


async def test_concurrent_calls_are_spread_evenly_and_counted_exactly() -> None:
    servers = [Server(name, latency_s=0.02) for name in "abc"]
    router = router_over(*servers)
    answers = await asyncio.gather(*(router.ainvoke(i) for i in range(90)))
    assert sorted(set(answers)) == ["a", "b", "c"]
    # All 90 start before any finishes: 30 each, never more than that at once on one replica.
    assert [server.calls for server in servers] == [30, 30, 30]
    assert [server.peak for server in servers] == [30, 30, 30]
    assert all(n.requests == 30 and n.errors == 0 for n in router.counts().values())


def test_threads_share_the_router_safely() -> None:
    servers = [Server(name) for name in "abcd"]
    for server in servers:
        server.release.clear()
    router = router_over(*servers)
    threads = [threading.Thread(target=router.invoke, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    while sum(server.in_flight for server in servers) < 40:
        threading.Event().wait(0.005)
    # 40 calls held at once over 4 replicas: least-loaded choice under a lock gives 10 each.
    assert [server.in_flight for server in servers] == [10, 10, 10, 10]
    for server in servers:
        server.release.set()
    for thread in threads:
        thread.join(5)
    assert sum(n.requests for n in router.counts().values()) == 40
    assert router.batch(list(range(8)), config={"max_concurrency": 4}) == ["a", "b", "c", "d"] * 2


# -- failures, benching, probing ----------------------------------------------------------------


def test_a_call_to_a_dead_replica_is_answered_by_another() -> None:
    a, b = Server("a"), Server("b")
    a.down = True
    router = router_over(a, b)
    assert router.invoke("x") == "b"
    counts = router.counts()
    assert counts["a"] == EndpointCounts(requests=1, errors=1)
    assert counts["b"] == EndpointCounts(requests=1, errors=0)


def test_repeated_failures_bench_a_replica_and_a_probe_brings_it_back() -> None:
    clock = FakeClock()
    a, b = Server("a"), Server("b")
    router = router_over(a, b, clock=clock, max_failures=2, bench_s=1.0, max_bench_s=4.0)
    a.down = True
    router.invoke("x")  # a's turn: it fails (strike 1), b answers
    router.invoke("x")  # a's turn again (b answered last): strike 2, benched; b answers
    assert a.calls == 2
    assert router.counts()["a"].benches == 1
    for _ in range(5):
        assert router.invoke("x") == "b"
    assert a.calls == 2  # benched: not asked at all
    clock.now += 1.0
    assert router.invoke("x") == "b"  # the probe: a still down, benched again, twice as long
    assert a.calls == 3
    counts = router.counts()["a"]
    assert counts.benches == 2
    assert counts.benched_s == pytest.approx(1.0)
    clock.now += 1.5
    assert router.counts()["a"].benched_s == pytest.approx(2.5)  # 1 s, then 1.5 s of 2 s
    router.invoke("x")
    assert a.calls == 3  # still benched
    clock.now += 0.5
    a.down = False
    assert router.invoke("x") == "a"  # the probe succeeds
    assert router.counts()["a"].benched_s == pytest.approx(3.0)
    assert [router.invoke("x") for _ in range(4)] == ["b", "a", "b", "a"]
    # Back in rotation, a fresh failure streak starts from the first bench length again.
    a.down = True
    while router.counts()["a"].benches < 3:
        router.invoke("x")
    assert a.calls == 8  # two strikes
    clock.now += 5.0
    assert router.counts()["a"].benched_s == pytest.approx(4.0)


def test_bench_length_doubles_and_is_bounded() -> None:
    clock = FakeClock()
    a, b = Server("a"), Server("b")
    a.down = True
    router = router_over(a, b, clock=clock, max_failures=1, bench_s=1.0, max_bench_s=4.0)
    lengths = []
    for _ in range(5):
        calls = a.calls
        while a.calls == calls:
            router.invoke("x")
        benched_before = router.counts()["a"].benched_s
        clock.now += 100  # far past any bench
        lengths.append(router.counts()["a"].benched_s - benched_before)
    assert lengths == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_an_error_of_the_request_itself_is_raised_without_benching_or_failing_over() -> None:
    a, b = Server("a"), Server("b")
    a.down = True
    a.error = ValueError("bad request")
    router = router_over(a, b, max_failures=1)
    with pytest.raises(ValueError, match="bad request"):
        router.invoke("x")
    assert b.calls == 0
    assert router.counts()["a"] == EndpointCounts(requests=1, errors=1)
    assert router.invoke("x") == "b"  # a is not benched: it just had its turn
    with pytest.raises(ValueError, match="bad request"):
        router.invoke("x")
    assert router.counts()["a"].benches == 0


def test_server_errors_and_rate_limits_fail_over_like_refused_connections() -> None:
    class StatusError(Exception):
        def __init__(self, status_code: int) -> None:
            super().__init__(f"HTTP {status_code}")
            self.status_code = status_code

    for status, fails_over in [(500, True), (503, True), (429, True), (400, False), (404, False)]:
        a, b = Server("a"), Server("b")
        a.down = True
        a.error = StatusError(status)
        router = router_over(a, b)
        if fails_over:
            assert router.invoke("x") == "b"
        else:
            with pytest.raises(StatusError):
                router.invoke("x")


async def test_every_replica_benched_raises_a_fatal_model_error_naming_them() -> None:
    clock = FakeClock()
    a, b = Server("a"), Server("b")
    a.down = b.down = True
    router = router_over(a, b, clock=clock, max_failures=2)
    with pytest.raises(ConnectionRefusedError):
        await router.ainvoke("x")  # one strike each: not benched yet, the call's own error
    with pytest.raises(NoReplicaAvailableError) as raised:
        await router.ainvoke("x")  # second strike each: both benched
    message = str(raised.value)
    assert "no replica of the model answers" in message
    assert "a benched 1.0 s more after ConnectionRefusedError: a refused" in message
    assert "b benched" in message
    assert is_fatal_model_error(raised.value)
    calls = a.calls + b.calls
    with pytest.raises(NoReplicaAvailableError):
        router.invoke("x")
    assert a.calls + b.calls == calls  # nothing sent while both are benched
    clock.now += 1.0
    b.down = False
    assert await router.ainvoke("x") == "b"  # bench over: probes go out again


async def test_a_cancelled_call_frees_its_slot_without_a_strike() -> None:
    slow = Server("slow", latency_s=10)
    router = router_over(slow, max_failures=1)
    task = asyncio.ensure_future(router.ainvoke("x"))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert slow.in_flight == 1  # the fake never left; the router's own count is what matters
    assert router.counts()["slow"] == EndpointCounts(requests=1, errors=0)
    slow.latency_s = 0
    assert await router.ainvoke("x") == "slow"  # not benched


def test_streams_fall_over_only_before_the_first_chunk() -> None:
    a, b = Server("a"), Server("b")
    a.down = True
    router = router_over(a, b)
    assert list(router.stream("x")) == ["b", "!"]
    assert router.counts()["a"].errors == 1


# -- Runnable plumbing --------------------------------------------------------------------------


def test_names_must_be_unique_and_match_the_replicas() -> None:
    with pytest.raises(ValueError, match="label of its own"):
        ModelRouter(replicas=[Replica(server=Server("a"))] * 2, names=["a", "a"])
    with pytest.raises(ValueError, match="label of its own"):
        ModelRouter(replicas=[Replica(server=Server("a"))], names=["a", "b"])
    assert ModelRouter(replicas=[Replica(server=Server("a"))] * 2).names == [
        "replica_0",
        "replica_1",
    ]


def test_copies_share_one_record_and_the_steps_see_the_replicas() -> None:
    models = [FakeSelfInstructLLM(seed=i) for i in range(3)]
    router = ModelRouter(replicas=list(models))
    assert leaves(router) == models
    assert primary(router.with_config(run_name="x")) is models[0]
    configured, applied = configure_model(router, {"classification_rate": 0.5})
    assert applied == {"classification_rate": 0.5}
    assert isinstance(configured, ModelRouter)
    assert [leaf.classification_rate for leaf in leaves(configured)] == [0.5] * 3  # type: ignore[attr-defined]
    assert models[0].classification_rate != 0.5  # the caller's models are untouched
    configured.invoke("1. a\n2.")
    copy = rebuild(router.bind(stop=["\n"]), lambda leaf: leaf)
    copy.invoke("1. a\n2.")
    assert router.counts()["replica_0"].requests == 1
    assert router.counts()["replica_1"].requests == 1
    assert find(copy, ModelRouter)[0].counts() == router.counts()
    step = InstructionGenerator(router)
    assert step.prompt_kind == "completion"


def test_structured_output_is_asked_of_every_replica() -> None:
    seen: list[Any] = []

    class Structured(Replica):
        def with_structured_output(self, schema: Any, **kwargs: Any) -> Replica:
            seen.append((self.server.name, schema, kwargs))
            return self

    router = ModelRouter(replicas=[Structured(server=Server("a")), Structured(server=Server("b"))])
    structured = router.with_structured_output(dict, include_raw=True)
    assert [name for name, _, _ in seen] == ["a", "b"]
    assert isinstance(structured, ModelRouter)
    structured.invoke("x")
    assert router.counts()["replica_0"].requests == 1


def test_counts_since_report_only_the_calls_after_it_and_merge_copies() -> None:
    a, b = Server("a"), Server("b")
    router = router_over(a, b)
    router.invoke("x")
    since = counts_since([router, router.with_config(run_name="copy").bound])  # type: ignore[attr-defined]
    router.invoke("x")
    router.invoke("x")
    assert since() == {
        "a": {"requests": 1, "errors": 0, "benched_s": 0.0, "benches": 0},
        "b": {"requests": 1, "errors": 0, "benched_s": 0.0, "benches": 0},
    }


class FlakyFake(FakeSelfInstructLLM):
    """The scripted fake behind a server that can go down (copies share the server)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    server: Server

    async def _agenerate(self, prompts: list[str], *args: Any, **kwargs: Any) -> Any:
        self.server.enter()
        result = await super()._agenerate(prompts, *args, **kwargs)
        self.server.leave()  # raises while the server is down
        return result


async def test_a_pipeline_over_replicas_survives_one_dying_and_counts_per_endpoint(
    tmp_path: Any,
) -> None:
    servers = [Server(name) for name in ("e1", "e2", "e3")]
    replicas: list[BaseLLM] = [FlakyFake(seed=i, server=s) for i, s in enumerate(servers)]
    router = ModelRouter(replicas=list(replicas), names=[s.name for s in servers])
    pipeline = SelfInstructPipeline(router, preset="fast", max_concurrency=4, seed=0)

    def kill(event: Any) -> None:
        if sum(server.calls for server in servers) > 20:
            servers[1].down = True

    summary = await pipeline.arun(tmp_path, 20, on_event=kill)
    stats = summary.stats
    assert stats.stop_reason == "target"
    assert servers[1].down
    endpoints = stats.endpoints
    assert set(endpoints) == {"e1", "e2", "e3"}
    assert sum(e["requests"] for e in endpoints.values()) == stats.model_calls + stats.model_errors
    assert endpoints["e2"]["errors"] >= 2 and endpoints["e2"]["benches"] >= 1
    live = min(endpoints["e1"]["requests"], endpoints["e3"]["requests"])
    assert endpoints["e2"]["requests"] < live
    assert sum(stats.failures.values()) == 0  # every call e2 failed was answered elsewhere


async def test_a_pipeline_whose_replicas_all_die_stops_with_a_model_error(tmp_path: Any) -> None:
    servers = [Server(name) for name in ("e1", "e2")]
    for server in servers:
        server.down = True
    router = ModelRouter(
        replicas=[FlakyFake(seed=i, server=s) for i, s in enumerate(servers)],
        names=[s.name for s in servers],
        bench_s=60,
    )
    pipeline = SelfInstructPipeline(router, preset="fast", max_concurrency=2, seed=0)
    summary = await pipeline.arun(tmp_path, 5)
    assert summary.stats.stop_reason == "model_error"
    assert summary.exit_code == 4
    assert summary.stats.last_error is not None
    assert summary.stats.last_error.startswith("NoReplicaAvailableError: no replica")
    # Bounded: each replica took at most max_failures strikes plus the calls already in flight.
    assert sum(server.calls for server in servers) <= 2 * 2 + 2
    assert summary.stop_detail.startswith("model_error: ")
    assert "NoReplicaAvailableError" in summary.stop_detail


def test_the_openai_sdks_errors_are_told_apart() -> None:
    openai = pytest.importorskip("openai")
    httpx = pytest.importorskip("httpx")
    from langchain_selfinstruct.errors import is_endpoint_failure

    request = httpx.Request("POST", "http://127.0.0.1:1/v1/completions")

    def status(cls: Any, code: int) -> Exception:
        response = httpx.Response(code, request=request)
        error: Exception = cls(f"HTTP {code}", response=response, body=None)
        return error

    down = [
        openai.APIConnectionError(request=request),
        openai.APITimeoutError(request=request),
        status(openai.InternalServerError, 500),
        status(openai.InternalServerError, 503),
        status(openai.RateLimitError, 429),
        httpx.ConnectError("refused"),
    ]
    own = [
        status(openai.BadRequestError, 400),
        status(openai.NotFoundError, 404),
        status(openai.AuthenticationError, 401),
        ValueError("no generation chunks"),
    ]
    assert [is_endpoint_failure(error) for error in down] == [True] * len(down)
    assert [is_endpoint_failure(error) for error in own] == [False] * len(own)
    wrapped = RuntimeError("step failed")
    wrapped.__cause__ = down[0]
    assert is_endpoint_failure(wrapped)
