"""The bootstrap loop on fake models: sampling, stopping, filtering, provenance, streaming."""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from typing import Any

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.globals import set_llm_cache
from pydantic import Field

from langchain_selfinstruct import FakeSelfInstructLLM, SelfInstructPipeline, load_seed_tasks
from langchain_selfinstruct.dedup import NearDuplicateIndex
from langchain_selfinstruct.pipeline import Accepted, Rejected, RoundFinished
from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.steps import InstructionFilter


def _pipeline(**kwargs: Any) -> SelfInstructPipeline:
    llm = kwargs.pop("llm", None) or FakeSelfInstructLLM(seed=kwargs.pop("llm_seed", 0))
    return SelfInstructPipeline(llm, **kwargs)


def _content(tasks: list[Task]) -> list[tuple[Any, ...]]:
    return [
        (t.id, t.instruction, t.is_classification, [(i.input, i.output) for i in t.instances])
        for t in tasks
    ]


def test_stops_at_exactly_the_target_with_sequential_ids() -> None:
    tasks = _pipeline(max_concurrency=3).invoke({"num_instructions": 13})
    assert [t.id for t in tasks] == [f"machine_task_{i}" for i in range(13)]
    assert all(t.source == "machine" and t.instances for t in tasks)


def test_prompts_hold_six_human_and_two_machine_once_two_exist() -> None:
    pipeline = _pipeline(max_concurrency=2)
    state = pipeline.new_state()
    tasks = [
        e.task for e in asyncio.run(_collect(pipeline.events(30, state))) if isinstance(e, Accepted)
    ]
    machine_counts = [
        sum(pid.startswith("machine_task_") for pid in t.prompt_task_ids or []) for t in tasks
    ]
    assert all(len(t.prompt_task_ids or []) == 8 for t in tasks)
    assert machine_counts[0] == 0
    assert machine_counts[-1] == 2
    assert set(machine_counts) <= {0, 1, 2}
    seed_ids = {t.id for t in load_seed_tasks()}
    assert all(
        pid in seed_ids for t in tasks for pid in t.prompt_task_ids or [] if "machine" not in pid
    )


def test_provenance_fields_are_filled() -> None:
    (task,) = _pipeline().invoke({"num_instructions": 1})
    assert task.model == "fake:self-instruct"
    assert task.model_params == {
        k: v
        for k, v in _pipeline().preset.instruction_generation.model_dump(exclude_none=True).items()
    }
    assert task.most_similar and 0 < len(task.most_similar) <= 10
    assert all(0.0 <= s <= 1.0 for s in task.most_similar.values())
    assert list(task.most_similar.values()) == sorted(task.most_similar.values(), reverse=True)
    assert task.avg_similarity_score is not None and 0 < task.avg_similarity_score < 0.7
    assert task.created_at is not None and task.created_at.tzinfo is not None


def test_same_seed_same_dataset_other_seed_other_dataset() -> None:
    first = _pipeline(seed=7, max_concurrency=4).invoke({"num_instructions": 12})
    second = _pipeline(seed=7, max_concurrency=4).invoke({"num_instructions": 12})
    other = _pipeline(seed=8, max_concurrency=4).invoke({"num_instructions": 12})
    assert _content(first) == _content(second)
    assert _content(first) != _content(other)


def test_filters_reject_with_reasons_and_duplicates_never_enter() -> None:
    llm = FakeSelfInstructLLM(duplicate_rate=0.3, blacklisted_rate=0.2)
    pipeline = _pipeline(llm=llm, max_concurrency=4)
    events = asyncio.run(_collect(pipeline.events(25, pipeline.new_state())))
    reasons = Counter(e.record.reason for e in events if isinstance(e, Rejected))
    assert reasons["near_duplicate"] > 0
    assert reasons["blacklisted:draw"] > 0
    accepted = [e.task.instruction for e in events if isinstance(e, Accepted)]
    seeds = {t.instruction for t in load_seed_tasks()}
    assert len(set(accepted)) == len(accepted) == 25
    assert not seeds & set(accepted)


class _SameEveryPrompt(FakeSelfInstructLLM):
    def _instructions(self, prompt: str, rng: Any) -> str:
        return (
            "Plan a weekend hiking trip for four friends on a tight budget.\n"
            "10. Explain how tides work to a curious eight-year-old child."
        )


def test_later_generations_see_the_candidates_kept_before_them() -> None:
    pipeline = _pipeline(llm=_SameEveryPrompt(), max_concurrency=3, max_stalled_rounds=1)
    events = asyncio.run(_collect(pipeline.events(3, pipeline.new_state())))
    first_round = events[: next(i for i, e in enumerate(events) if isinstance(e, RoundFinished))]
    accepted = [e.task.instruction for e in first_round if isinstance(e, Accepted)]
    assert accepted == [
        "Plan a weekend hiking trip for four friends on a tight budget.",
        "Explain how tides work to a curious eight-year-old child.",
    ]
    dupes = [e.record.to_dict() for e in first_round if isinstance(e, Rejected)]
    assert len(dupes) == 4  # the two other prompts' copies of both
    assert {r["reason"] for r in dupes} == {"near_duplicate"}
    assert all(r["detail"]["against"] == "pool" for r in dupes)
    assert all(tuple(r["detail"]["most_similar"][0]) == (r["instruction"], 1.0) for r in dupes)


def test_garbage_model_stops_bounded_and_accounts_for_every_candidate() -> None:
    llm = FakeSelfInstructLLM(garbage_rate=1.0)
    pipeline = _pipeline(llm=llm, max_concurrency=2, max_stalled_rounds=3)
    state = pipeline.new_state()
    events = asyncio.run(_collect(pipeline.events(5, state)))
    stats = state.stats
    assert (stats.stop_reason, stats.rounds, stats.accepted) == ("stalled", 3, 0)
    assert sum(stats.failures.values()) > 0
    later_failures = (
        stats.failures["identify_classification"] + stats.failures["generate_instances"]
    )
    assert sum(stats.rejected.values()) + later_failures == stats.generated_instructions
    rejected_events = sum(isinstance(e, Rejected) for e in events)
    assert rejected_events == sum(stats.rejected.values()) + sum(stats.failures.values())
    step_calls = 3 * 2 + 2 * stats.generated_instructions
    assert stats.model_calls <= 3 * step_calls  # max_retries=2: at most three attempts a step


def test_flaky_model_still_reaches_the_target() -> None:
    llm = FakeSelfInstructLLM(garbage_rate=0.3)
    pipeline = _pipeline(llm=llm, max_concurrency=4)
    state = pipeline.new_state()
    events = asyncio.run(_collect(pipeline.events(15, state)))
    assert state.stats.accepted == 15
    assert state.stats.stop_reason == "target"
    assert sum(isinstance(e, Accepted) for e in events) == 15


def test_token_budget_stops_cleanly() -> None:
    pipeline = _pipeline(max_tokens=3000, max_concurrency=2)
    state = pipeline.new_state()
    asyncio.run(_collect(pipeline.events(500, state)))
    assert state.stats.stop_reason == "max_tokens"
    assert 0 < state.stats.accepted < 500
    assert state.stats.total_tokens >= 3000


def test_cost_budget_needs_a_known_price() -> None:
    with pytest.raises(ValueError, match="no price known"):
        SelfInstructPipeline(FakeSelfInstructLLM(), max_cost=1.0)
    pipeline = _pipeline(max_cost=0.001, prices={"fake": (1.0, 1.0)})
    state = pipeline.new_state()
    asyncio.run(_collect(pipeline.events(500, state)))
    assert state.stats.stop_reason == "max_cost"
    assert state.stats.cost_usd is not None and state.stats.cost_usd >= 0.001


class _CountingFake(FakeSelfInstructLLM):
    """Logs each call's kind ("generate", "classify", "instances") at start and at end."""

    log: list[tuple[str, str]] = Field(default_factory=list)
    jitter_s: float = 0.0

    async def _agenerate(self, prompts: list[str], *args: Any, **kwargs: Any) -> Any:
        kind = _kind(prompts[0])
        self.log.append(("start", kind))
        try:
            await asyncio.sleep(random.random() * self.jitter_s)
            return await super()._agenerate(prompts, *args, **kwargs)
        finally:
            self.log.append(("end", kind))


def _kind(prompt: str) -> str:
    if prompt.rstrip().endswith("Is it classification?"):
        return "classify"
    return (
        "generate" if prompt.startswith("Here is a numbered list of varied tasks") else "instances"
    )


def test_stop_request_lets_work_in_flight_finish_and_starts_no_new_generation() -> None:
    llm = _CountingFake(latency_s=0.002, log=[])
    pipeline = _pipeline(llm=llm, max_concurrency=4)
    state = pipeline.new_state()

    async def run() -> tuple[list[Any], int]:
        seen, stop_at = [], -1
        async for event in pipeline.events(1000, state):
            seen.append(event)
            if isinstance(event, Accepted) and stop_at < 0:
                state.budget.stop.set()
                stop_at = len(llm.log)
        return seen, stop_at

    events, stop_at = asyncio.run(run())
    assert state.stats.stop_reason == "interrupted"
    assert ("start", "generate") not in llm.log[stop_at:]
    accepted = [e.task.id for e in events if isinstance(e, Accepted)]
    assert accepted == [f"machine_task_{i}" for i in range(state.stats.accepted)]
    assert isinstance(events[-1], RoundFinished)
    assert sum(isinstance(e, RoundFinished) for e in events) == state.stats.rounds


def test_freed_slots_are_refilled_without_waiting_for_a_round() -> None:
    # Rounds of abatch never overlap instruction generation with the calls that complete
    # the previous round's candidates; the continuous scheduler does.
    llm = _CountingFake(latency_s=0.001, jitter_s=0.004, log=[])
    _pipeline(llm=llm, max_concurrency=4).invoke({"num_instructions": 60})
    in_flight: Counter[str] = Counter()
    overlapped = 0
    for event, kind in llm.log:
        if (
            event == "start"
            and kind == "generate"
            and in_flight["classify"] + in_flight["instances"]
        ):
            overlapped += 1
        in_flight[kind] += 1 if event == "start" else -1
    assert overlapped > 0


def test_same_dataset_whatever_the_call_timing() -> None:
    class Jittery(FakeSelfInstructLLM):
        async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(random.random() * 0.004)
            return await super()._agenerate(*args, **kwargs)

    steady = _pipeline(seed=5, max_concurrency=6).invoke({"num_instructions": 25})
    for _ in range(2):
        jittery = SelfInstructPipeline(Jittery(), seed=5, max_concurrency=6)
        assert _content(jittery.invoke({"num_instructions": 25})) == _content(steady)


def test_every_candidate_is_accounted_for_when_the_target_is_reached() -> None:
    llm = FakeSelfInstructLLM(garbage_rate=0.2, latency_s=0.001)
    state = _pipeline(llm=llm, max_concurrency=5).new_state()
    asyncio.run(_collect(_pipeline(llm=llm, max_concurrency=5).events(20, state)))
    stats = state.stats
    dropped = sum(n for reason, n in stats.rejected.items() if not reason.startswith("instance:"))
    later = sum(n for stage, n in stats.failures.items() if stage != "generate_instructions")
    assert stats.stop_reason == "target" and stats.accepted == 20
    assert stats.generated_instructions == dropped + stats.surplus + stats.accepted + later


def test_stream_yields_one_task_chunks_that_add_up_to_invoke() -> None:
    chunks = list(_pipeline(seed=3).stream({"num_instructions": 5}))
    assert all(len(chunk) == 1 for chunk in chunks)
    streamed = [task for chunk in chunks for task in chunk]
    assert _content(streamed) == _content(_pipeline(seed=3).invoke({"num_instructions": 5}))


async def test_astream_events_show_steps_and_progress() -> None:
    names: Counter[str] = Counter()
    progress: list[dict[str, Any]] = []
    async for event in _pipeline().astream_events({"num_instructions": 3}, version="v2"):
        names[event["name"]] += 1
        if event["event"] == "on_custom_event" and event["name"] == "self_instruct.progress":
            progress.append(dict(event["data"]))
    for step in (
        "self_instruct.generate_instructions",
        "self_instruct.filter_instructions",
        "self_instruct.identify_classification",
        "self_instruct.generate_instances",
        "self_instruct.filter_instances",
    ):
        assert names[step] > 0, step
    assert progress and progress[-1]["accepted"] == 3 and progress[-1]["target"] == 3


def test_concurrency_is_bounded_by_max_concurrency() -> None:
    lock, active, peak = threading.Lock(), [0], [0]

    class Tracking(FakeSelfInstructLLM):
        async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            try:
                return await super()._agenerate(*args, **kwargs)
            finally:
                with lock:
                    active[0] -= 1

    SelfInstructPipeline(Tracking(latency_s=0.01), max_concurrency=3).invoke(
        {"num_instructions": 12}
    )
    assert peak[0] == 3


def test_sampling_steps_are_never_cached_but_classification_may_be() -> None:
    global_cache, classification_cache = InMemoryCache(), InMemoryCache()
    set_llm_cache(global_cache)
    try:
        _pipeline(classification_cache=classification_cache).invoke({"num_instructions": 4})
    finally:
        set_llm_cache(None)
    assert global_cache._cache == {}
    cached_prompts = [prompt for prompt, _ in classification_cache._cache]
    assert cached_prompts
    assert all(p.rstrip().endswith("Is it classification?") for p in cached_prompts)


def test_invalid_targets_are_refused() -> None:
    for bad in (0, -3, "7", None):
        with pytest.raises(ValueError, match="positive integer"):
            _pipeline().invoke({"num_instructions": bad})  # type: ignore[typeddict-item]


async def _collect(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


def test_a_filter_with_its_own_empty_index_gets_every_kept_text() -> None:
    own = NearDuplicateIndex()
    pipeline = _pipeline(instruction_filter=InstructionFilter(index=own), max_concurrency=3)
    tasks = pipeline.invoke({"num_instructions": 8})
    assert {t.instruction for t in tasks} <= set(own.texts)
    assert all(t.avg_similarity_score is not None for t in tasks[1:])


def test_leaving_the_event_stream_early_cancels_the_work_in_flight() -> None:
    pipeline = _pipeline(llm=FakeSelfInstructLLM(latency_s=0.05), max_concurrency=6)

    async def run() -> set[asyncio.Task[Any]]:
        events = pipeline.events(100, pipeline.new_state())
        async for event in events:
            if isinstance(event, Accepted):
                break
        await events.aclose()
        return asyncio.all_tasks() - {asyncio.current_task()}

    assert asyncio.run(run()) == set()
