"""Model replicas on a Ray cluster (the ``ray`` extra): the options, the actor, and its start.

``SelfInstructPipeline(llm, ray=RayReplicas(...))`` (``selfinstruct generate --ray auto
--replicas N``) runs the loop's model work on ``replicas`` Ray actors. Each actor builds its model
once, from the same spec the CLI takes (:func:`~langchain_selfinstruct.models.resolve_model`:
``embedded``, ``llamacpp:PATH``, ``provider:model``, a ``base_url`` server) or from an importable
factory ``"module:function"``, and the loop's two step Runnables over it exactly as the pipeline
does (``_loop_steps.py``). What runs where, and why, is in ``loop/ray_executor.py``.

On the driver, the pipeline's ``llm`` only names the model (provenance, price, redaction);
:meth:`RayReplicas.driver_model` gives one without loading weights there. The replicas must run
the model it names: each reports its own model's name at start and a mismatch is an error.
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from langchain_core.caches import BaseCache
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM
from langchain_core.language_models.base import LangSmithParams
from langchain_core.outputs import LLMResult
from langchain_core.rate_limiters import InMemoryRateLimiter
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from langchain_selfinstruct._loop_steps import build_loop_steps
from langchain_selfinstruct.endpoints import endpoint_counts, resolve_endpoints
from langchain_selfinstruct.errors import ModelConfigError
from langchain_selfinstruct.loop.budget import Budget
from langchain_selfinstruct.loop.ray_executor import RayExecutor
from langchain_selfinstruct.loop.replica_calls import CallContext, UnitReply, run_unit
from langchain_selfinstruct.models import model_name, parse_model_spec
from langchain_selfinstruct.presets import Preset
from langchain_selfinstruct.steps import InstanceFilter
from langchain_selfinstruct.steps.judged_rule import JudgedInstanceRule

__all__ = ["RAY_INSTALL_HINT", "ModelReplica", "RayReplicas", "ReplicaModel", "StepsRecipe"]

RAY_INSTALL_HINT = 'Ray is not installed: pip install "langchain-selfinstruct[ray]"'
_LOCAL = frozenset({"embedded", "llamacpp"})


def require_ray() -> ModuleType:
    """Import Ray, or say which extra brings it."""
    try:
        import ray
    except ImportError as error:
        raise ModelConfigError(RAY_INSTALL_HINT) from error
    return ray


class RayReplicas(BaseModel):
    """Where and how the model replicas run: the Python form of ``--ray`` and its options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = None
    """The model spec, as ``--model`` takes it (``None``: the embedded model)."""
    factory: str | None = None
    """Instead of ``model``: ``"module:function"``, called on each replica to build its model."""
    base_url: str | None = None
    base_urls: tuple[str, ...] = ()
    """Instead of ``base_url``, several servers of the model (``--base-url`` given more than once):
    each replica routes over all of them, as one process does without Ray
    (:func:`~langchain_selfinstruct.endpoints.resolve_endpoints`, a
    :class:`~langchain_selfinstruct.routing.ModelRouter`). Not one server per replica: a replica
    pinned to a dead server would fail every unit it got, and fail them fast, so the least-busy
    pick would send it ever more; a router per replica benches the dead server and carries on
    with the others. Each replica has its own router and probes a benched server for itself;
    their per-endpoint counts come back with the replies, summed by server in ``stats.json``."""
    router_options: dict[str, Any] = Field(default_factory=dict)
    """With ``base_urls``: each replica's ``ModelRouter`` settings (``max_failures``, ``bench_s``,
    ``max_bench_s``)."""
    completion: bool = False
    api_key: SecretStr | None = None
    """Sent to the replicas to build their clients; never logged."""
    requests_per_second: float | None = Field(default=None, gt=0)
    """For the whole run: each replica limits itself to its share."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """More arguments for the model (for local models default: ``replica_cpus`` threads)."""
    address: str | None = "auto"
    """``ray.init``'s address: ``"auto"`` (a running cluster), ``"local"``, ``"ray://host:port"``;
    ignored when Ray is already initialised in this process."""
    replicas: int = Field(default=1, ge=1)
    replica_cpus: float = Field(default=1.0, ge=0)
    replica_gpus: float = Field(default=0.0, ge=0)
    max_restarts: int = Field(default=3, ge=0)
    """Times Ray restarts a replica that died (per replica)."""
    unit_retries: int = Field(default=2, ge=0)
    """Times a unit is run again after its replica died."""
    start_timeout_s: float = Field(default=900.0, gt=0)
    """How long the replicas may take to start and load their model."""
    replica_niceness: int | None = Field(default=0, ge=0, le=19)
    """The replicas' nice value (``None``: Ray's, 15 unless the cluster sets another).

    Ray starts its workers at nice 15, below its own raylet, and a replica is such a worker.
    But a replica is the run's hot path: at 15 it gets about 1/28 of what any nice-0 process
    on its node gets (the driver, a build, another job), and the run slows by that much
    (``benchmarks/README.md``, "Ray replicas": 7 calls/s against 171 beside four busy
    processes on 2 cores). At 0 a replica shares its node fairly, and the raylet, also at 0,
    still gets its share. It is set through the actor's ``runtime_env`` (merged with the
    job's); workers start at the raylet's value and only raise it, so no privilege is needed
    unless the raylet itself runs above the value asked for."""

    @model_validator(mode="after")
    def _one_kind_of_url(self) -> RayReplicas:
        if self.base_url is not None and self.base_urls:
            raise ValueError("give base_url or base_urls, not both")
        return self

    def build_model(self) -> Runnable[Any, Any]:
        """The model, as a replica builds it."""
        limiter = None
        if self.requests_per_second is not None:
            share = self.requests_per_second / self.replicas
            limiter = InMemoryRateLimiter(requests_per_second=share)
        if self.factory is not None:
            built: Runnable[Any, Any] = _import_factory(self.factory)(**self.model_kwargs)
            return built
        kwargs = dict(self.model_kwargs)
        if self._provider() in _LOCAL:
            kwargs.setdefault("n_threads", max(1, int(self.replica_cpus)))
            kwargs.setdefault("n_replicas", 1)
        return resolve_endpoints(
            self.model,
            base_urls=self.base_urls or ((self.base_url,) if self.base_url else ()),
            router_options=self.router_options,
            completion=self.completion,
            api_key=self.api_key.get_secret_value() if self.api_key else None,
            rate_limiter=limiter,
            **kwargs,
        )

    def driver_model(self) -> Runnable[Any, Any]:
        """What the driver's pipeline names the model with; local weights are not loaded.

        With ``base_urls``, the first server's client: the name the replicas' routers give
        (their primary), and no router on the driver whose counts would stay at zero.
        """
        if self.factory is None and self._provider() in _LOCAL:
            return ReplicaModel(label=self._local_label())
        if self.factory is None and self.base_urls:
            return self.model_copy(update={"base_urls": self.base_urls[:1]}).build_model()
        return self.build_model()

    def _provider(self) -> str:
        base_url = self.base_urls[0] if self.base_urls else self.base_url
        spec = parse_model_spec(self.model, base_url=base_url, completion=self.completion)
        return spec.provider

    def _local_label(self) -> str:
        from langchain_selfinstruct.embedded import embedded_model_path

        spec = parse_model_spec(self.model, completion=self.completion)
        path = Path(spec.model) if spec.provider == "llamacpp" else embedded_model_path()
        try:
            packaged = path == embedded_model_path()
        except ModelConfigError:
            packaged = False
        return f"{'embedded' if packaged else 'llamacpp'}:{path.name.split('.', 1)[0]}"

    async def start(
        self,
        steps: StepsRecipe,
        config: RunnableConfig,
        budget: Budget,
        *,
        expected: str,
        judged_rule: JudgedInstanceRule | None = None,
    ) -> RayExecutor:
        """Start the replicas (and Ray, if this process has not), wait until each has its model.

        Usage is counted into ``budget.usage``; with several ``base_urls`` the replicas'
        per-endpoint counts become ``budget.endpoint_counts`` (``stats.json``'s ``endpoints``).
        ``judged_rule`` (``--curate``) runs on the driver (``loop/ray_executor.py``).

        Raises:
            ModelConfigError: Ray is missing, the cluster is too small, a replica could not
                build its model or runs another model than ``expected``.
        """
        ray = require_ray()
        if not ray.is_initialized():
            try:
                ray.init(address=self.address)
            except (ConnectionError, RuntimeError) as error:
                raise ModelConfigError(
                    f"cannot reach a Ray cluster at {self.address!r} (start one with "
                    f"`ray start --head`, or use --ray local): {error}"
                ) from error
        self._check_resources(ray.cluster_resources())
        actor = ray.remote(ModelReplica).options(
            num_cpus=self.replica_cpus,
            num_gpus=self.replica_gpus,
            max_restarts=self.max_restarts,
            max_task_retries=0,  # a lost unit is retried by the executor, which counts it
            **self._runtime_env(),
        )
        replicas = [actor.remote(self, steps) for _ in range(self.replicas)]
        try:
            names = await asyncio.wait_for(
                asyncio.gather(*(replica.describe.remote() for replica in replicas)),
                self.start_timeout_s,
            )
        except (Exception, asyncio.CancelledError) as error:
            for replica in replicas:
                ray.kill(replica, no_restart=True)
            if isinstance(error, asyncio.TimeoutError):  # not TimeoutError before 3.11
                raise ModelConfigError(
                    f"the {self.replicas} Ray replicas did not start within "
                    f"{self.start_timeout_s:g} s"
                ) from error
            if isinstance(error, ray.exceptions.RayError):
                first = str(error).strip().splitlines()[-1] if str(error).strip() else ""
                raise ModelConfigError(f"a Ray replica could not start: {first}") from error
            raise
        wrong = sorted(set(names) - {expected})
        if wrong:
            for replica in replicas:
                ray.kill(replica, no_restart=True)
            raise ModelConfigError(
                f"the Ray replicas run {wrong[0]!r}, the driver names {expected!r}"
            )
        executor = RayExecutor(
            replicas, config, budget.usage, unit_retries=self.unit_retries, judged_rule=judged_rule
        )
        if len(self.base_urls) > 1:
            budget.endpoint_counts = executor.endpoint_counts
        return executor

    def _runtime_env(self) -> dict[str, Any]:
        if self.replica_niceness is None:
            return {}
        # Read by the worker's own Ray core at start, before any of our code runs.
        return {"runtime_env": {"env_vars": {"RAY_worker_niceness": str(self.replica_niceness)}}}

    def _check_resources(self, available: dict[str, float]) -> None:
        for key, each in (("CPU", self.replica_cpus), ("GPU", self.replica_gpus)):
            if each * self.replicas > available.get(key, 0.0):
                raise ModelConfigError(
                    f"{self.replicas} replicas need {each * self.replicas:g} {key}s; "
                    f"the Ray cluster has {available.get(key, 0.0):g}"
                )


@dataclass(frozen=True)
class StepsRecipe:
    """What a replica needs besides its model to build the steps as the pipeline does."""

    preset: Preset
    instance_filter: InstanceFilter | None = None
    classification_cache: BaseCache | None = None
    """Each replica gets its own copy of it: a cache hit on one replica is not one on another."""


class ModelReplica:
    """One model and the loop's steps over it, in a Ray actor; see ``loop/ray_executor.py``."""

    def __init__(self, options: RayReplicas, steps: StepsRecipe) -> None:
        llm = options.build_model()
        self._name = model_name(llm)
        self._endpoints = endpoint_counts(llm)
        self._start = uuid.uuid4().hex
        self._generate, self._complete = build_loop_steps(
            llm,
            steps.preset,
            instance_filter=steps.instance_filter,
            classification_cache=steps.classification_cache,
        )

    async def describe(self) -> str:
        """The model's name, once it is built."""
        return self._name

    async def generate(self, prompt: list[str], context: CallContext) -> UnitReply:
        """Step 1 for one prompt."""
        return self._reply(await run_unit(self._generate, prompt, context))

    async def complete(self, instruction: str, context: CallContext) -> UnitReply:
        """Steps 2-4 for one candidate."""
        return self._reply(await run_unit(self._complete, instruction, context))

    def _reply(self, reply: UnitReply) -> UnitReply:
        counts = (self._start, self._endpoints()) if self._endpoints is not None else None
        return replace(_portable(reply), endpoints=counts)


def _portable(reply: UnitReply) -> UnitReply:
    """``reply`` with each exception Ray cannot serialise replaced by a same-named stand-in."""
    import io

    from ray.util import inspect_serializability

    errors = []
    for error, by_cause in reply.errors:
        # Ray's own check (it serialises to memory and loads nothing), quietly.
        serializable, _ = inspect_serializability(error, print_file=io.StringIO())
        if not serializable:
            error = type(type(error).__name__, (RuntimeError,), {})(str(error))
        errors.append((error, by_cause))
    return replace(reply, errors=tuple(errors))


def _import_factory(path: str) -> Any:
    module, sep, name = path.partition(":")
    if not sep or not module or not name:
        raise ModelConfigError(f"factory {path!r}: write module:function")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise ModelConfigError(f"factory {path!r}: {error}") from error


class ReplicaModel(BaseLLM):
    """The driver's name for a model that only the Ray replicas load; it answers no call."""

    label: str
    """``provider:name``, as :func:`~langchain_selfinstruct.models.model_name` gives it."""

    @property
    def _llm_type(self) -> str:
        return "ray-replica"

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"], _, params["ls_model_name"] = self.label.partition(":")
        return params

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        raise RuntimeError(f"{self.label} runs on the Ray replicas, not on the driver")
