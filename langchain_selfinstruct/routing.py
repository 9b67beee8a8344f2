"""Spread model calls over replicas of one model: the least loaded first, failing ones benched.

:class:`ModelRouter` is a Runnable in front of any list of models (typically one OpenAI client
per vLLM or llama.cpp server, see :func:`langchain_selfinstruct.endpoints.resolve_endpoints`):

* each call goes to the replica with the fewest calls in flight (ties in turn);
* a call that fails because its replica is down or overloaded (connection refused, timeout,
  5xx or 429 after the client's own retries: :func:`~langchain_selfinstruct.errors.
  is_endpoint_failure`) is sent again to another replica, each replica tried once per call;
* ``max_failures`` such failures in a row bench the replica for ``bench_s`` seconds, doubling
  with every bench in a row up to ``max_bench_s``; once the bench is over one call probes it
  (others go to it only when nothing else can take them), and a success brings it back;
* a call finding every replica benched raises
  :class:`~langchain_selfinstruct.errors.NoReplicaAvailableError`, which stops the loop as a
  model error (``selfinstruct generate`` exits 4); any other error is the call's own and is
  raised as it is, without trying elsewhere.

Copies of a router (``with_config``, ``bind``, the steps' sampling copies through
:func:`~langchain_selfinstruct.unwrap.rebuild`, :meth:`ModelRouter.with_structured_output`) share
one record of load and health, so the whole run sees one picture of each replica, and
:meth:`ModelRouter.counts` gives the per-replica counts that ``stats.json`` shows.

Why not langchain-core's pieces alone:

* ``with_fallbacks`` tries its runnables in a fixed order, so every call goes to the primary
  while it answers (no spreading of load), and it keeps no memory: a dead primary is tried, and
  its client's retries waited out, on every call. The router falls over within a call as
  fallbacks do, but picks by load and skips benched replicas.
* ``with_retry`` repeats the call on the same runnable; the provider SDKs already retry inside
  one call (backoff, ``Retry-After``), so the router only counts what is left after them.
* ``InMemoryRateLimiter`` bounds the request rate, not the load per replica nor its health. It
  composes with the router: ``resolve_endpoints(..., rate_limiter=...)`` gives every replica the
  same limiter (one rate for the run), or give each replica its own.

The router makes no run of its own: the replica's model run is the trace (a call that fell
over shows the failed attempt as an errored model run beside the one that answered).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from langchain_selfinstruct.replica_health import BenchPolicy, EndpointCounts, ReplicaHealth

__all__ = ["EndpointCounts", "ModelRouter", "counts_since"]

AnyRunnable = Runnable[Any, Any]


class ModelRouter(RunnableSerializable[Any, Any]):
    """Send each call to the least loaded healthy replica of a model; bench failing ones.

    Example:
        .. code-block:: python

            from langchain_openai import ChatOpenAI

            router = ModelRouter(
                replicas=[ChatOpenAI(model="qwen", base_url=url) for url in urls],
                names=urls,
            )
            pipeline = SelfInstructPipeline(router)
            ...
            router.counts()  # {"http://10.0.0.1:8000/v1": EndpointCounts(requests=..., ...)}

    The replicas should be the same model: the steps read the first one's type and settings
    (prompt variant, stop sequences) and set their sampling fields on every one.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    name: str | None = "model_router"
    replicas: list[AnyRunnable] = Field(min_length=1)
    """The models to spread calls over, in the order ties are broken."""
    names: list[str] = Field(default_factory=list)
    """One label per replica for counts and messages (no credentials: URLs without them);
    default ``replica_0``, ``replica_1``, ..."""
    max_failures: int = Field(default=2, ge=1)
    """Endpoint failures in a row that bench a replica; default 2."""
    bench_s: float = Field(default=1.0, gt=0)
    """First bench in seconds, doubled with each bench in a row; default 1."""
    max_bench_s: float = Field(default=60.0, gt=0)
    """Longest bench in seconds; default 60."""
    clock: Callable[[], float] = Field(default=time.monotonic, exclude=True)
    """Seconds, monotonic; replaced in tests."""

    _health: ReplicaHealth = PrivateAttr()

    @model_validator(mode="after")
    def _check_names(self) -> ModelRouter:
        if not self.names:
            self.names = [f"replica_{i}" for i in range(len(self.replicas))]
        if len(self.names) != len(self.replicas) or len(set(self.names)) != len(self.names):
            raise ValueError("names must give each replica a label of its own")
        return self

    def model_post_init(self, context: Any, /) -> None:
        """Start the shared record of load and health (copies keep the original's)."""
        super().model_post_init(context)
        policy = BenchPolicy(self.max_failures, self.bench_s, self.max_bench_s, self.clock)
        self._health = ReplicaHealth(len(self.replicas), policy)

    # -- copies that share the record ----------------------------------------------------------

    def map_replicas(self, change: Callable[[AnyRunnable], AnyRunnable]) -> ModelRouter:
        """A router over ``change(replica)`` for each replica, sharing this one's counts."""
        return self.model_copy(update={"replicas": [change(r) for r in self.replicas]})

    def with_structured_output(self, schema: Any, **kwargs: Any) -> ModelRouter:
        """Route over each replica's ``with_structured_output(schema, **kwargs)``."""
        return self.map_replicas(lambda replica: replica.with_structured_output(schema, **kwargs))  # type: ignore[attr-defined]

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ModelRouter:
        """Route over each replica's ``bind_tools(tools, **kwargs)``."""
        return self.map_replicas(lambda replica: replica.bind_tools(tools, **kwargs))  # type: ignore[attr-defined]

    def counts(self) -> dict[str, EndpointCounts]:
        """Per-replica counts since the router was made, by name."""
        return self._health.counts(self.names)

    @property
    def InputType(self) -> Any:
        """The first replica's input type."""
        return self.replicas[0].InputType

    @property
    def OutputType(self) -> Any:
        """The first replica's output type."""
        return self.replicas[0].OutputType

    # -- calls ---------------------------------------------------------------------------------

    def _route(self, call: Callable[[AnyRunnable], Any]) -> Any:
        tried: set[int] = set()
        last: BaseException | None = None
        while (index := self._health.acquire(tried)) is not None:
            tried.add(index)
            try:
                result = call(self.replicas[index])
            except BaseException as error:
                if not self._health.release(index, error):
                    raise
                last = error
            else:
                self._health.release(index, None)
                return result
        raise self._health.exhausted(self.names, last)

    async def _aroute(self, call: Callable[[AnyRunnable], Awaitable[Any]]) -> Any:
        tried: set[int] = set()
        last: BaseException | None = None
        while (index := self._health.acquire(tried)) is not None:
            tried.add(index)
            try:
                result = await call(self.replicas[index])
            except BaseException as error:
                if not self._health.release(index, error):
                    raise
                last = error
            else:
                self._health.release(index, None)
                return result
        raise self._health.exhausted(self.names, last)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Call the least loaded healthy replica (another one if it is down)."""
        return self._route(lambda replica: replica.invoke(input, config, **kwargs))

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Asynchronous :meth:`invoke`."""
        return await self._aroute(lambda replica: replica.ainvoke(input, config, **kwargs))

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """Stream from one replica; another is tried only if the first fails before a chunk."""
        tried: set[int] = set()
        last: BaseException | None = None
        while (index := self._health.acquire(tried)) is not None:
            tried.add(index)
            started = False
            try:
                for chunk in self.replicas[index].stream(input, config, **kwargs):
                    started = True
                    yield chunk
            except BaseException as error:
                if not self._health.release(index, error) or started:
                    raise
                last = error
            else:
                self._health.release(index, None)
                return
        raise self._health.exhausted(self.names, last)

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Asynchronous :meth:`stream`."""
        tried: set[int] = set()
        last: BaseException | None = None
        while (index := self._health.acquire(tried)) is not None:
            tried.add(index)
            started = False
            try:
                async for chunk in self.replicas[index].astream(input, config, **kwargs):
                    started = True
                    yield chunk
            except BaseException as error:
                if not self._health.release(index, error) or started:
                    raise
                last = error
            else:
                self._health.release(index, None)
                return
        raise self._health.exhausted(self.names, last)


def counts_since(routers: Sequence[ModelRouter]) -> Callable[[], dict[str, dict[str, Any]]]:
    """A function giving the routers' per-replica counts since now, JSON-ready, by name.

    A run's ``stats.json`` shows what that run did, also when the same router served an earlier
    run in the same process. Routers sharing a record (copies of one) are counted once.
    """
    unique = list({id(router._health): router for router in routers}.values())
    start = [router.counts() for router in unique]

    def since() -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for router, before in zip(unique, start, strict=True):
            for name, now in router.counts().items():
                merged[name] = now.minus(before.get(name, EndpointCounts())).to_dict()
        return merged

    return since
