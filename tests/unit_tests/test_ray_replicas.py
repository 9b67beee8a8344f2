"""The Ray executor's plain-data side, without a cluster: replies, error chains, replay, options.

The real cluster is exercised by ``tests/integration_tests/test_ray.py`` (marked ``ray``).
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import pytest
from click.testing import CliRunner
from langchain_core.callbacks import AsyncCallbackManager
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run
from pydantic import SecretStr

from langchain_selfinstruct import FakeSelfInstructLLM, ModelRouter, load_seed_tasks
from langchain_selfinstruct._cli_ray import ray_replicas
from langchain_selfinstruct._loop_steps import build_loop_steps
from langchain_selfinstruct.cli import main
from langchain_selfinstruct.errors import ModelConfigError, describe_error, is_fatal_model_error
from langchain_selfinstruct.loop import Budget
from langchain_selfinstruct.loop.replica_calls import (
    CallContext,
    UnitReply,
    UsageCounts,
    driver_handlers,
    pack_error,
    replay,
    run_unit,
    unpack_error,
)
from langchain_selfinstruct.models import model_name
from langchain_selfinstruct.presets import get_preset
from langchain_selfinstruct.ray_replicas import (
    RAY_INSTALL_HINT,
    RayReplicas,
    ReplicaModel,
    StepsRecipe,
)
from langchain_selfinstruct.stats import UsageTracker
from tests.integration_tests.ray_models import RefusingLLM


class _Collector(BaseTracer):
    run_inline = True

    def __init__(self) -> None:
        super().__init__()
        self.roots: list[Run] = []

    def _persist_run(self, run: Run) -> None:
        self.roots.append(run)


def _shape(run: Run) -> list[Any]:
    return [run.run_type, run.name, run.outputs is not None, [_shape(c) for c in run.child_runs]]


class KeyRefusedAuthenticationError(Exception):
    pass


def test_an_error_chain_survives_a_copy_that_drops_causes() -> None:
    try:
        try:
            raise KeyRefusedAuthenticationError("key refused")
        except KeyRefusedAuthenticationError as inner:
            raise RuntimeError("step failed after retries") from inner
    except RuntimeError as error:
        outer = error
    # Transport (pickle, deepcopy) keeps an exception's args and drops its __cause__:
    assert copy.deepcopy(outer).__cause__ is None
    assert not is_fatal_model_error(copy.deepcopy(outer))
    restored = unpack_error(copy.deepcopy(pack_error(outer)))
    assert is_fatal_model_error(restored)
    assert describe_error(restored) == "KeyRefusedAuthenticationError: key refused"


async def test_a_recorded_unit_replays_as_the_same_tree_under_the_drivers_run() -> None:
    # Two fresh copies of the model: the fake draws again when it sees a prompt twice.
    generate, _ = build_loop_steps(FakeSelfInstructLLM(), get_preset("faithful"))
    remote, _ = build_loop_steps(FakeSelfInstructLLM(), get_preset("faithful"))
    prompt = [task.instruction for task in load_seed_tasks()[:8]]

    direct = _Collector()
    parent = await AsyncCallbackManager.configure([direct]).on_chain_start({}, {}, name="caller")
    in_process = await generate.ainvoke(prompt, {"callbacks": parent.get_child()})
    await parent.on_chain_end({})

    usage, replayed = UsageTracker(), _Collector()
    driver = await AsyncCallbackManager.configure([replayed]).on_chain_start({}, {}, name="caller")
    handlers, parent_id, context = driver_handlers(driver.get_child(), usage)
    assert handlers == [replayed] and parent_id == driver.run_id and context.record
    reply = await run_unit(remote, prompt, context)
    await replay(reply.events, handlers, parent_id)
    await driver.on_chain_end({})
    reply.usage.add_to(usage)

    assert _shape(replayed.roots[0]) == _shape(direct.roots[0])
    assert reply.result == in_process
    assert usage.calls == 1 and usage.completion_tokens > 0


async def test_without_other_callbacks_nothing_is_recorded() -> None:
    usage = UsageTracker()
    handlers, parent, context = driver_handlers([usage], usage)
    assert (handlers, parent, context) == ([], None, CallContext())
    generate, _ = build_loop_steps(FakeSelfInstructLLM(), get_preset("faithful"))
    reply = await run_unit(generate, ["Write a poem."] * 8, context)
    assert reply.events == () and reply.errors == () and reply.usage.calls == 1


async def test_a_failed_unit_comes_back_as_its_packed_chain_with_its_usage() -> None:
    generate, _ = build_loop_steps(RefusingLLM(), get_preset("faithful"))
    reply = await run_unit(generate, ["Write a poem."] * 8, CallContext())
    assert reply.result is None
    error = unpack_error(reply.errors)
    assert describe_error(error) == "KeyRefusedAuthenticationError: this key was revoked"
    assert is_fatal_model_error(error)
    assert reply.usage.errors >= 1 and reply.usage.calls == 0


def test_usage_counts_add_up() -> None:
    usage = UsageTracker()
    UsageCounts(10, 5, 2, 1, {"resample": 1}).add_to(usage)
    UsageCounts(1, 1, 1, 0, {"resample": 2}).add_to(usage)
    assert UsageCounts.of(usage) == UsageCounts(11, 6, 3, 1, {"resample": 3})


async def test_without_ray_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    steps = StepsRecipe(get_preset("faithful"))
    with pytest.raises(ModelConfigError) as raised:
        await RayReplicas(model="fake").start(steps, {}, Budget(None), expected="fake")
    assert str(raised.value) == RAY_INSTALL_HINT
    assert 'pip install "langchain-selfinstruct[ray]"' in RAY_INSTALL_HINT


def test_the_driver_names_a_local_model_without_loading_it() -> None:
    model = RayReplicas(model="llamacpp:/nowhere/qwen-7b.Q4_K_M.gguf").driver_model()
    assert isinstance(model, ReplicaModel) and model.label == "llamacpp:qwen-7b"
    with pytest.raises(RuntimeError, match="runs on the Ray replicas"):
        model.invoke("hello")
    assert isinstance(RayReplicas(model="fake:0.01").driver_model(), FakeSelfInstructLLM)


def test_bad_factories_and_too_small_clusters_are_named() -> None:
    with pytest.raises(ModelConfigError, match="write module:function"):
        RayReplicas(factory="no_colon").build_model()
    with pytest.raises(ModelConfigError, match="factory 'json:nope'"):
        RayReplicas(factory="json:nope").build_model()
    gpus = RayReplicas(model="fake", replicas=2, replica_gpus=1)
    with pytest.raises(ModelConfigError, match="2 replicas need 2 GPUs; the Ray cluster has 0"):
        gpus._check_resources({"CPU": 8.0})


def test_cli_replicas_needs_ray(tmp_path: Any) -> None:
    command = ["generate", "-n", "1", "--out", str(tmp_path / "r"), "-m", "fake", "--replicas", "2"]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2 and "--replicas needs --ray" in result.output
    assert not (tmp_path / "r").exists()


def test_replicas_ask_ray_for_nice_0_unless_told_otherwise() -> None:
    env = RayReplicas(model="fake")._runtime_env()
    assert env == {"runtime_env": {"env_vars": {"RAY_worker_niceness": "0"}}}
    assert RayReplicas(model="fake", replica_niceness=None)._runtime_env() == {}
    with pytest.raises(ValueError, match="replica_niceness"):
        RayReplicas(model="fake", replica_niceness=-5)  # lowering it needs privileges


def test_several_servers_are_routed_on_every_replica_and_named_by_the_first() -> None:
    urls = ("http://127.0.0.1:9001/v1", "http://127.0.0.1:9002/v1")
    options = RayReplicas(model="qwen", base_urls=urls, completion=True, api_key=SecretStr("k"))
    router = options.build_model()
    assert isinstance(router, ModelRouter) and list(router.counts()) == list(urls)
    driver = options.driver_model()
    assert not isinstance(driver, ModelRouter)  # its counts would stay at zero
    assert model_name(driver) == model_name(router) == f"openai-compatible:qwen@{urls[0]}"
    with pytest.raises(ValueError, match="base_url or base_urls, not both"):
        RayReplicas(model="qwen", base_url=urls[0], base_urls=urls)


def test_cli_several_base_urls_on_ray_become_the_replicas_servers() -> None:
    urls = ("http://127.0.0.1:9001/v1", "http://127.0.0.1:9002/v1")
    options = {
        "ray_address": "local",
        "replicas": 2,
        "replica_cpus": 1.0,
        "replica_gpus": 0.0,
        "model": "qwen",
        "base_url": urls,
        "completion": True,
        "api_key": None,
        "requests_per_second": None,
    }
    replicas = ray_replicas(options)
    assert replicas is not None and replicas.base_urls == urls and replicas.replicas == 2


class _Remote:
    def __init__(self, replies: list[UnitReply]) -> None:
        self.replies = replies

    def remote(self, *args: Any) -> Any:
        async def answer() -> UnitReply:
            return self.replies.pop(0)

        return answer()


class _FakeReplica:
    """Answers each ``generate`` with the next reply it was given."""

    def __init__(self, replies: list[UnitReply]) -> None:
        self.generate = _Remote(replies)


async def test_replicas_endpoint_counts_are_summed_by_server_across_restarts() -> None:
    pytest.importorskip("ray")
    from langchain_selfinstruct.loop import GenerateInstructions
    from langchain_selfinstruct.loop.ray_executor import RayExecutor

    def reply(start: str, a: int, b: int) -> UnitReply:
        counts = {"http://a": {"requests": a, "errors": 0, "benched_s": 0.25, "benches": 0}}
        counts["http://b"] = {"requests": b, "errors": 1, "benched_s": 0.5, "benches": 1}
        return UnitReply(["task"], endpoints=(start, counts))

    # Replica 0 answers twice (its counts are cumulative: the later snapshot replaces the
    # earlier), then restarts and counts from zero under a new start id; replica 1 answers once.
    first = _FakeReplica([reply("r0", 1, 1), reply("r0", 3, 2), reply("r0-again", 1, 0)])
    second = _FakeReplica([reply("r1", 5, 0)])
    executor = RayExecutor([first, second], {}, UsageTracker())
    assert executor.endpoint_counts() == {}
    for number, replica in enumerate([0, 0, 0, 1]):
        executor._busy = [0, 1] if replica == 0 else [1, 0]  # steer the pick
        executor.submit(GenerateInstructions(number, ("p",) * 8, ("id",) * 8))
        await executor.wait()
    assert executor.endpoint_counts() == {
        "http://a": {"requests": 3 + 1 + 5, "errors": 0, "benched_s": 0.75, "benches": 0},
        "http://b": {"requests": 2 + 0 + 0, "errors": 3, "benched_s": 1.5, "benches": 3},
    }
