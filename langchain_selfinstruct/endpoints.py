"""One model served by several OpenAI-compatible servers (``--base-url`` given more than once).

Each server gets a client built exactly as :func:`~langchain_selfinstruct.models.resolve_model`
builds one for a single ``base_url`` (same key, retries, timeout, rate limiter), and a
:class:`~langchain_selfinstruct.routing.ModelRouter` spreads the calls over them, naming each by
its URL without credentials, query or fragment.

``models.resolve_model`` is looked up at call time, so a test that replaces it is obeyed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.runnables import Runnable

from langchain_selfinstruct import models
from langchain_selfinstruct.errors import ModelConfigError
from langchain_selfinstruct.routing import ModelRouter, counts_since
from langchain_selfinstruct.unwrap import find

__all__ = ["endpoint_counts", "resolve_endpoints"]


def resolve_endpoints(
    model: str | None,
    *,
    base_urls: Sequence[str] = (),
    router_options: Mapping[str, Any] | None = None,
    **options: Any,
) -> Runnable[Any, Any]:
    """The model ``model`` as served at every URL of ``base_urls``, as one Runnable.

    Args:
        model: The served model's name, as for :func:`~langchain_selfinstruct.models.
            resolve_model` (or any other model name when ``base_urls`` is empty).
        base_urls: The servers. None or one: the result is ``resolve_model``'s. Several: a
            :class:`~langchain_selfinstruct.routing.ModelRouter` over one client per server.
        router_options: :class:`~langchain_selfinstruct.routing.ModelRouter` settings
            (``max_failures``, ``bench_s``, ``max_bench_s``).
        **options: Passed to ``resolve_model`` for every server (``completion``, ``api_key``,
            ``rate_limiter`` shared by all, ``timeout``, ``max_retries``, ``probe``, ...).

    Raises:
        ModelConfigError: A URL is not http(s), or two name the same server.
    """
    urls = list(base_urls)
    if len(urls) <= 1:
        single: Runnable[Any, Any] = models.resolve_model(
            model, base_url=urls[0] if urls else None, **options
        )
        return single
    names = [models._safe_url(url) for url in urls]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ModelConfigError(f"--base-url names the same server twice: {', '.join(repeated)}")
    replicas = [models.resolve_model(model, base_url=url, **options) for url in urls]
    return ModelRouter(replicas=replicas, names=names, **(router_options or {}))


def endpoint_counts(llm: Runnable[Any, Any]) -> Callable[[], dict[str, dict[str, Any]]] | None:
    """Per-endpoint counts from now on of every router inside ``llm``; ``None`` without one."""
    routers = find(llm, ModelRouter)
    return counts_since(routers) if routers else None
