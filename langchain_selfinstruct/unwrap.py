"""See through the wrappers around a model: one walker for every place that needs the model itself.

A step, the pipeline and the provenance records all need the model behind what the caller passed:
to pick the prompt variant, set sampling fields, switch the cache off, name the model or find its
API key. LangChain wraps models in several ways (``.bind``, ``.with_config``, ``.with_retry``,
``.with_fallbacks``, ``configurable_alternatives`` / ``configurable_fields``, a sequence such as
``acquire_rate_limit | llm``, a :class:`~langchain_selfinstruct.routing.ModelRouter` over
replicas); :func:`leaves`, :func:`rebuild` and :func:`find` know all of them, so nothing else
has to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from langchain_core.language_models import BaseLanguageModel
from langchain_core.runnables import Runnable, RunnableSequence, RunnableWithFallbacks
from langchain_core.runnables.base import RunnableBindingBase
from langchain_core.runnables.configurable import (
    RunnableConfigurableAlternatives,
    RunnableConfigurableFields,
)

from langchain_selfinstruct.routing import ModelRouter

__all__ = ["find", "is_openai_compatible_server", "leaves", "primary", "rebuild"]

AnyRunnable = Runnable[Any, Any]
T = TypeVar("T")


def leaves(runnable: AnyRunnable) -> list[AnyRunnable]:
    """The runnables that actually answer, primary first.

    Bindings (``bind``, ``with_config``, ``with_retry``) are looked through; fallbacks and
    configurable alternatives contribute every option, the default first; a router every
    replica, in order; a sequence contributes the models among its steps (a rate-limit step
    before a completion model is not one).

    Args:
        runnable: A model or any wrapping of one.

    Returns:
        The innermost runnables, never empty (an unknown runnable is its own leaf).
    """
    if isinstance(runnable, RunnableBindingBase):
        return leaves(runnable.bound)
    if isinstance(runnable, RunnableWithFallbacks):
        return [leaf for item in (runnable.runnable, *runnable.fallbacks) for leaf in leaves(item)]
    if isinstance(runnable, ModelRouter):
        return [leaf for item in runnable.replicas for leaf in leaves(item)]
    if isinstance(runnable, RunnableConfigurableAlternatives):
        options = (runnable.default, *runnable.alternatives.values())
        return [leaf for item in options if isinstance(item, Runnable) for leaf in leaves(item)]
    if isinstance(runnable, RunnableConfigurableFields):
        return leaves(runnable.default)
    if isinstance(runnable, RunnableSequence):
        found = [leaf for step in runnable.steps for leaf in leaves(step)]
        models: list[AnyRunnable] = [leaf for leaf in found if isinstance(leaf, BaseLanguageModel)]
        return models or [runnable]
    return [runnable]


def primary(runnable: AnyRunnable) -> AnyRunnable:
    """The runnable that answers first: the primary of fallbacks, the default alternative."""
    return leaves(runnable)[0]


def rebuild(runnable: AnyRunnable, change: Callable[[AnyRunnable], AnyRunnable]) -> AnyRunnable:
    """Copy ``runnable`` with ``change`` applied to every leaf, keeping every wrapper around it.

    The caller's objects are left untouched (wrappers are copied with ``model_copy``).
    Configurable alternatives that are factories rather than runnables are kept as they are.

    Args:
        runnable: A model or any wrapping of one.
        change: Maps a leaf (see :func:`leaves`) to its replacement; called on every leaf, so it
            must return a leaf it does not handle unchanged.

    Returns:
        The rebuilt runnable.
    """
    if isinstance(runnable, RunnableBindingBase):
        return runnable.model_copy(update={"bound": rebuild(runnable.bound, change)})
    if isinstance(runnable, RunnableWithFallbacks):
        update = {
            "runnable": rebuild(runnable.runnable, change),
            "fallbacks": [rebuild(item, change) for item in runnable.fallbacks],
        }
        return runnable.model_copy(update=update)
    if isinstance(runnable, ModelRouter):
        # The copy shares the original's record of load and health.
        return runnable.map_replicas(lambda item: rebuild(item, change))
    if isinstance(runnable, RunnableConfigurableAlternatives):
        alternatives = {
            key: rebuild(item, change) if isinstance(item, Runnable) else item
            for key, item in runnable.alternatives.items()
        }
        update = {"default": rebuild(runnable.default, change), "alternatives": alternatives}
        return runnable.model_copy(update=update)
    if isinstance(runnable, RunnableConfigurableFields):
        return runnable.model_copy(update={"default": rebuild(runnable.default, change)})
    if isinstance(runnable, RunnableSequence):
        steps = [rebuild(step, change) for step in runnable.steps]
        return RunnableSequence(*steps, name=runnable.name)
    return change(runnable)


def find(runnable: AnyRunnable, kind: type[T]) -> list[T]:
    """Every runnable of type ``kind`` in ``runnable``: itself, its wrappers' insides, its leaves.

    Outermost first, e.g. the routers in a model: ``find(llm, ModelRouter)``.
    """
    inside: list[Any]
    if isinstance(runnable, RunnableBindingBase):
        inside = [runnable.bound]
    elif isinstance(runnable, RunnableWithFallbacks):
        inside = [runnable.runnable, *runnable.fallbacks]
    elif isinstance(runnable, ModelRouter):
        inside = list(runnable.replicas)
    elif isinstance(runnable, RunnableConfigurableAlternatives):
        inside = [runnable.default, *runnable.alternatives.values()]
    elif isinstance(runnable, RunnableConfigurableFields):
        inside = [runnable.default]
    elif isinstance(runnable, RunnableSequence):
        inside = list(runnable.steps)
    else:
        inside = []
    found = [runnable] if isinstance(runnable, kind) else []
    inner = [hit for item in inside if isinstance(item, Runnable) for hit in find(item, kind)]
    return found + inner


def is_openai_compatible_server(llm: AnyRunnable) -> bool:
    """Whether ``llm`` is an OpenAI client pointed at another server (vLLM, llama.cpp, ...)."""
    base_url = getattr(primary(llm), "openai_api_base", None)
    return bool(base_url) and urlsplit(str(base_url)).hostname != "api.openai.com"
