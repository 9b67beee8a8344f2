"""Embedded-model tokens/s through the pipeline against raw llama.cpp on the same calls.

The pipeline runs the bootstrap loop on the embedded SmolLM2-135M-Instruct GGUF while a thin
proxy around its ``llama_cpp.Llama`` records every ``create_completion`` call (prompt and every
parameter: max_tokens, stop, temperature, top_p, top_k, min_p, repeat_penalty, seed) with its
duration and token usage. The recorded calls are then replayed, in the same order and from a
worker thread (as the pipeline's calls run), on a fresh ``llama_cpp.Llama`` with the same GGUF,
``n_ctx`` and threads:

* raw + same cache: with the same kind of prefix-state cache the pipeline's model uses;
* raw, no cache (``--no-cache-baseline``): plain llama.cpp, as a user would call it.

Generated tokens/s (and prompt tokens/s) are compared; the replay must produce the same text
(same seeds), so both sides do exactly the same work. Each repetition starts from an empty
cache and a reset context on both sides, and which side goes first alternates. On a shared
machine wall times swing widely, so the table compares each side's best repetition and, more
robustly, the sum over calls of each call's fastest repetition (for the pipeline divided by the
share of its wall time spent inside llama.cpp, which is measured within one run and so does not
depend on load).

Usage: ``python benchmarks/bench_embedded.py [--quick] [--tasks 1] [--repeats 3]
[--no-cache-baseline]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from langchain_selfinstruct import SelfInstructPipeline, load_embedded_model
from langchain_selfinstruct.embedded import EmbeddedCompletionModel
from langchain_selfinstruct.llama_handles import LlamaHandle


@dataclass(frozen=True)
class Call:
    """One recorded ``create_completion`` call."""

    prompt: str
    params: dict[str, Any]
    seconds: float
    prompt_tokens: int
    completion_tokens: int
    text: str


class RecordingLlama:
    """Delegates to a ``llama_cpp.Llama`` and records every completion call."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[Call] = []

    def create_completion(self, prompt: str, **params: Any) -> dict[str, Any]:
        start = time.perf_counter()
        response: dict[str, Any] = self.client.create_completion(prompt, **params)
        seconds = time.perf_counter() - start
        usage = response.get("usage", {})
        self.calls.append(
            Call(
                prompt,
                dict(params),
                seconds,
                int(usage.get("prompt_tokens", 0)),
                int(usage.get("completion_tokens", 0)),
                response["choices"][0]["text"],
            )
        )
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@dataclass(frozen=True)
class Measured:
    """Wall time and token counts of one side of the comparison."""

    seconds: float
    prompt_tokens: int
    completion_tokens: int
    call_seconds: tuple[float, ...]
    """Time of each llama.cpp call, in call order."""

    @property
    def generated_per_s(self) -> float:
        return self.completion_tokens / self.seconds

    @property
    def prompt_per_s(self) -> float:
        return self.prompt_tokens / self.seconds


def fresh_cache(client: Any) -> None:
    """Give ``client`` an empty cache of the kind it had (or none) and a reset context."""
    cache = getattr(client, "cache", None)
    if cache is not None:
        client.set_cache(type(cache)(capacity_bytes=cache.capacity_bytes))
    client.reset()


def run_pipeline(tasks: int, concurrency: int) -> tuple[Measured, list[Call], Any]:
    """Run the loop on a fresh embedded wrapper; return timing, recorded calls and the Llama."""
    # One copy of the model, like the single Llama the replay runs on.
    llm: EmbeddedCompletionModel = load_embedded_model(n_replicas=1)
    (client,) = llm._handle.clients
    fresh_cache(client)
    recorder = RecordingLlama(client)
    # Only this wrapper (and the copies the pipeline makes of it) calls through the recorder.
    llm._handle = LlamaHandle([recorder])
    pipeline = SelfInstructPipeline(llm, max_concurrency=concurrency, seed=0)
    state = pipeline.new_state()

    async def drive() -> None:
        async for _ in pipeline.events(tasks, state):
            pass

    start = time.perf_counter()
    asyncio.run(drive())
    seconds = time.perf_counter() - start
    calls = recorder.calls
    measured = Measured(
        seconds,
        sum(c.prompt_tokens for c in calls),
        sum(c.completion_tokens for c in calls),
        tuple(c.seconds for c in calls),
    )
    return measured, calls, client


def replay(client: Any, calls: list[Call]) -> tuple[Measured, int]:
    """Replay ``calls`` on ``client``; returns timing and how many texts differ."""
    prompt_tokens = completion_tokens = mismatches = 0
    call_seconds: list[float] = []
    start = time.perf_counter()
    for call in calls:
        call_start = time.perf_counter()
        response = client.create_completion(call.prompt, **call.params)
        call_seconds.append(time.perf_counter() - call_start)
        usage = response["usage"]
        prompt_tokens += usage["prompt_tokens"]
        completion_tokens += usage["completion_tokens"]
        mismatches += response["choices"][0]["text"] != call.text
    seconds = time.perf_counter() - start
    return Measured(seconds, prompt_tokens, completion_tokens, tuple(call_seconds)), mismatches


def raw_llama(like: Any, *, cached: bool) -> Any:
    """A new ``Llama`` with ``like``'s GGUF, context size and threads."""
    from llama_cpp import Llama

    client = Llama(
        model_path=like.model_path,
        n_ctx=like.n_ctx(),
        n_threads=like.n_threads,
        n_threads_batch=like.n_threads_batch,
        verbose=False,
    )
    if cached and getattr(like, "cache", None) is not None:
        client.set_cache(type(like.cache)(capacity_bytes=like.cache.capacity_bytes))
    return client


def replay_all(raw: dict[str, Any], calls: list[Call], results: dict[str, list[Measured]]) -> int:
    """Replay ``calls`` on every raw client; returns how many texts differ from the pipeline's."""
    mismatched = 0
    for name, client in raw.items():
        fresh_cache(client)
        # A worker thread, like the pipeline's calls (asyncio's executor): in our runs,
        # llama.cpp called from the main thread was up to 3x slower than from a worker.
        with ThreadPoolExecutor(max_workers=1) as worker:
            replayed, differ = worker.submit(replay, client, calls).result()
        results[name].append(replayed)
        mismatched += differ
    return mismatched


def median(values: list[float]) -> float:
    return statistics.median(values)


def per_call_best(runs: list[Measured]) -> float:
    """Sum over calls of each call's fastest repetition: robust to bursts of machine load."""
    per_call = zip(*(m.call_seconds for m in runs), strict=True)
    return float(sum(min(times) for times in per_call))


def report(results: dict[str, list[Measured]], share: float) -> None:
    """Print one row per side.

    ``best`` is each side's least disturbed repetition. ``per-call best`` sums each call's
    fastest repetition; for the pipeline it is divided by the share of its wall time spent
    inside llama.cpp, so the pipeline's own overhead is counted.
    """
    base = results["raw + same cache"]
    base_best = max(m.generated_per_s for m in base)
    base_calls = per_call_best(base)
    rows = [
        (
            "side",
            "best wall s",
            "median wall s",
            "prompt tok",
            "gen tok",
            "gen tok/s (best)",
            "vs raw+cache",
            "per-call best s",
            "vs raw+cache",
        )
    ]
    for name, runs in results.items():
        best = min(runs, key=lambda m: m.seconds)
        calls = per_call_best(runs) / (share if name == "pipeline" else 1.0)
        rows.append(
            (
                name,
                f"{best.seconds:.2f}",
                f"{median([m.seconds for m in runs]):.2f}",
                str(best.prompt_tokens),
                str(best.completion_tokens),
                f"{best.generated_per_s:.1f}",
                f"{best.generated_per_s / base_best:.0%}",
                f"{calls:.2f}",
                f"{base_calls / calls:.0%}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = zip(row, widths, strict=True)
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(cells)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 task, 1 repetition")
    parser.add_argument("--tasks", type=int, default=1, help="tasks to accept per run")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions (median)")
    parser.add_argument("--concurrency", type=int, default=8, help="pipeline max_concurrency")
    parser.add_argument("--no-cache-baseline", action="store_true", help="also replay uncached")
    args = parser.parse_args()
    tasks, repeats = (1, 1) if args.quick else (args.tasks, args.repeats)

    results: dict[str, list[Measured]] = {"pipeline": [], "raw + same cache": []}
    if args.no_cache_baseline:
        results["raw, no cache"] = []
    in_model: list[float] = []
    mismatched = 0
    raw: dict[str, Any] = {}
    calls: list[Call] = []
    for repetition in range(repeats):
        # Alternate which side goes first, so a drift in machine load hits both alike.
        raw_first = repetition % 2 == 1
        if raw_first:
            mismatched += replay_all(raw, calls, results)
        measured, pipeline_calls, client = run_pipeline(tasks, args.concurrency)
        mismatched += sum(a.text != b.text for a, b in zip(calls, pipeline_calls, strict=False))
        calls = pipeline_calls
        results["pipeline"].append(measured)
        in_model.append(sum(c.seconds for c in calls))
        if not raw:
            raw = {
                name: raw_llama(client, cached=name == "raw + same cache")
                for name in results
                if name != "pipeline"
            }
        if not raw_first:
            mismatched += replay_all(raw, calls, results)
        walls = ", ".join(f"{name} {runs[-1].seconds:.1f} s" for name, runs in results.items())
        print(f"repetition {repetition + 1}: {walls}", flush=True)
    info = raw["raw + same cache"]
    print(
        f"embedded {info.model_path.rsplit('/', 1)[-1]}, n_ctx {info.n_ctx()}, "
        f"threads {info.n_threads}/{info.n_threads_batch}; {tasks} task(s), "
        f"concurrency {args.concurrency}, {len(calls)} calls per run, {repeats} repetitions"
    )
    share = median(
        [inside / m.seconds for inside, m in zip(in_model, results["pipeline"], strict=True)]
    )
    report(results, share)
    print(
        f"share of the pipeline's wall time inside llama.cpp: {share:.2%} (median); "
        f"texts differing between runs and replays: {mismatched}"
    )


if __name__ == "__main__":
    main()
