"""Scale-out benchmarks (issue 16), one function per section; ``--only`` picks sections.

Sections:

* ``endpoints`` (many endpoints): the loop against local OpenAI-compatible fake servers that
  take 50 ms per answer and work on at most ``--slots`` requests at once (like a vLLM or
  llama.cpp server's slots), through the real OpenAI completions client. One server with a
  plain client, one server behind a ``ModelRouter`` (the router's own cost) and three servers
  behind the router (``--base-url`` given three times), at concurrency 32. Reported: model
  calls per second (calls / wall time of the run), the ideal ``min(concurrency, servers x
  slots) / latency``, CPU milliseconds per call in the client process, and each server's share
  of the calls. The servers run in their own processes, so their CPU is not the client's.

* ``ray_fake``, ``ray_embedded``, ``on_paper`` (Ray replicas): in ``bench_scale_ray.py``, whose
  docstring describes them; they need the ``ray`` extra.

Usage: ``python benchmarks/bench_scale.py [--only endpoints|ray_fake|ray_embedded|on_paper]
[--runs 3] [--quick]``
Every timing here should run under ``flock /tmp/bench.lock`` with the load quoted.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the fault server lives with the tests

from langchain_selfinstruct import SelfInstructPipeline  # noqa: E402
from langchain_selfinstruct.endpoints import resolve_endpoints  # noqa: E402
from langchain_selfinstruct.routing import ModelRouter  # noqa: E402

LATENCY_S = 0.05
CONCURRENCY = 32
TIMEOUT_S = 5.0
"""Client timeout: short, because a few requests to these local servers are lost now and then
(with one server as with three, with or without the router), and each costs a timeout."""


# -- fake servers in their own processes -------------------------------------------------------


def _serve(latency_s: float, slots: int, seed: int, conn: Connection) -> None:
    from tests.integration_tests.servers.fault_server import FaultPlan, FaultServer

    plan = FaultPlan(latency_s=latency_s, max_parallel=slots)
    with FaultServer(plan, answers_seed=seed) as server:
        conn.send(server.base_url)
        while conn.recv() == "retries":  # until the benchmark is done with it
            conn.send(sum(request.retry_count > 0 for request in server.requests))


@dataclass(frozen=True)
class FakeServerProcess:
    url: str
    pid: int
    conn: Connection

    def retries(self) -> int:
        """Requests the server saw that were a client's retry (a timeout or a lost answer)."""
        self.conn.send("retries")
        count: int = self.conn.recv()
        return count

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server process so far (Linux ``/proc``)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def fake_servers(count: int, latency_s: float, slots: int) -> Iterator[list[FakeServerProcess]]:
    """``count`` fake servers, each in its own process."""
    context = multiprocessing.get_context("spawn")
    with ExitStack() as stack:
        servers: list[FakeServerProcess] = []
        for seed in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(latency_s, slots, seed, child))
            process.start()

            def stop(conn: Connection = parent, proc: Any = process) -> None:
                conn.send("stop")
                proc.join(10)

            stack.callback(stop)
            servers.append(FakeServerProcess(parent.recv(), process.pid or 0, parent))
        yield servers


# -- many endpoints ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointRun:
    setup: str
    servers: int
    calls: int
    wall_s: float
    cpu_ms_per_call: float
    shares: list[float]
    load: float
    errors: int
    server_cpu_ms_per_call: float
    retries: int

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.wall_s


async def _one_run(
    urls: list[str], routed: bool, target: int
) -> tuple[int, float, float, Any, int]:
    llm = resolve_endpoints(
        "canned",
        base_urls=urls,
        completion=True,
        api_key="not-needed",
        timeout=TIMEOUT_S,
    )
    if routed and not isinstance(llm, ModelRouter):
        llm = ModelRouter(replicas=[llm], names=urls)
    pipeline = SelfInstructPipeline(llm, preset="fast", max_concurrency=CONCURRENCY, seed=0)
    with tempfile.TemporaryDirectory() as out:
        cpu, wall = time.process_time(), time.perf_counter()
        summary = await pipeline.arun(Path(out), target)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stats = summary.stats
    if stats.stop_reason != "target":
        raise RuntimeError(f"the run stopped short: {summary.stop_detail}")
    calls = stats.model_calls + stats.model_errors
    return calls, wall, cpu, stats.endpoints, stats.model_errors


def bench_endpoints(args: argparse.Namespace) -> None:
    """Three fake servers against one, as model calls per second, in one run of the script."""
    target = 40 if args.quick else 200
    setups: list[tuple[str, int, bool]] = [
        ("1 server, plain client", 1, False),
        ("1 server, router", 1, True),
        ("3 servers, router", 3, True),
    ]
    results: dict[str, list[EndpointRun]] = {name: [] for name, _, _ in setups}

    async def every_run(servers: list[FakeServerProcess]) -> None:
        urls = [server.url for server in servers]
        # One event loop for all runs: the clients of a run are closed on the loop they used.
        await _one_run(urls[:1], False, 10)  # warm-up: imports, connections
        for run in range(args.runs):
            order = setups if run % 2 == 0 else list(reversed(setups))
            for name, count, routed in order:
                load = os.getloadavg()[0]
                server_cpu = sum(server.cpu_s() for server in servers)
                retries = sum(server.retries() for server in servers)
                calls, wall, cpu, endpoints, errors = await _one_run(urls[:count], routed, target)
                total = sum(e["requests"] for e in endpoints.values()) or calls
                shares = [e["requests"] / total for e in endpoints.values()] or [1.0]
                server_cpu = sum(server.cpu_s() for server in servers) - server_cpu
                retries = sum(server.retries() for server in servers) - retries
                run_result = EndpointRun(
                    setup=name,
                    servers=count,
                    calls=calls,
                    wall_s=wall,
                    cpu_ms_per_call=1000 * cpu / calls,
                    shares=shares,
                    load=load,
                    errors=errors,
                    server_cpu_ms_per_call=1000 * server_cpu / calls,
                    retries=retries,
                )
                results[name].append(run_result)

    with fake_servers(3, LATENCY_S, args.slots) as servers:
        asyncio.run(every_run(servers))
    print(
        f"\nMany endpoints: fake servers at {LATENCY_S * 1000:.0f} ms, {args.slots} slots each, "
        f"concurrency {CONCURRENCY}, {target} tasks, median of {args.runs}\n"
    )
    header = (
        "| setup | ideal calls/s | calls/s (median) | runs | ratio | client CPU ms per call "
        "| servers' CPU ms per call | share per server | model errors | SDK retries "
        "| load at start |"
    )
    print(header)
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | --- | --- | --- | --- |")
    for name, count, _ in setups:
        runs = results[name]
        ideal = min(CONCURRENCY, count * args.slots) / LATENCY_S
        rate = statistics.median(r.calls_per_s for r in runs)
        cpu = statistics.median(r.cpu_ms_per_call for r in runs)
        server_cpu = statistics.median(r.server_cpu_ms_per_call for r in runs)
        split = " / ".join(f"{s:.0%}" for s in runs[-1].shares)
        each = ", ".join(f"{r.calls_per_s:.0f}" for r in runs)
        loads = ", ".join(f"{r.load:.1f}" for r in runs)
        errors = ", ".join(str(r.errors) for r in runs)
        retried = ", ".join(str(r.retries) for r in runs)
        print(
            f"| {name} | {ideal:.0f} | {rate:.0f} | {each} | {rate / ideal:.0%} | {cpu:.2f} "
            f"| {server_cpu:.2f} | {split} | {errors} | {retried} | {loads} |"
        )


# -- entry point ---------------------------------------------------------------------------------


def _ray_sections() -> dict[str, Callable[[argparse.Namespace], None]]:
    # The Ray sections live in bench_scale_ray.py (ray is an extra; imported when run).
    def ray_fake(args: argparse.Namespace) -> None:
        import bench_scale_ray

        _RAY_ROWS[:] = bench_scale_ray.ray_fake(args.runs)

    def ray_embedded(args: argparse.Namespace) -> None:
        import bench_scale_ray

        bench_scale_ray.ray_embedded(args.runs)

    def on_paper(args: argparse.Namespace) -> None:
        import bench_scale_ray

        bench_scale_ray.on_paper(args.runs, list(_RAY_ROWS) or None)

    return {"ray_fake": ray_fake, "ray_embedded": ray_embedded, "on_paper": on_paper}


_RAY_ROWS: list[Any] = []

SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "endpoints": bench_endpoints,
    **_ray_sections(),
}
"""Section name -> function, run in this order."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small targets, for a smoke test")
    parser.add_argument("--slots", type=int, default=8, help="requests a fake server works on")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    for name in args.only or list(SECTIONS):
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
