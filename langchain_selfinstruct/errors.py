"""Errors shared across modules, and which model errors no retry or later round can fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_selfinstruct.schema import Task
    from langchain_selfinstruct.stats import RunStats

__all__ = [
    "ModelConfigError",
    "NoReplicaAvailableError",
    "RunStoppedError",
    "describe_error",
    "is_endpoint_failure",
    "is_fatal_model_error",
]

# Provider SDKs name their refusals of a key or a permission like this (openai, anthropic,
# google, mistral...); matching by name keeps them optional dependencies.
_FATAL_NAMES = ("AuthenticationError", "PermissionDeniedError", "Unauthorized", "Forbidden")
_FATAL_STATUS = frozenset({401, 403})
# What HTTP clients call a server they cannot reach or that did not answer in time (openai's
# APIConnectionError / APITimeoutError, httpx's ConnectError / ReadTimeout / RemoteProtocolError).
_UNREACHABLE_NAMES = ("ConnectionError", "ConnectError", "TimeoutError", "Timeout", "ProtocolError")


class ModelConfigError(ValueError):
    """The model cannot be used as configured; the one-line message names the fix."""


class NoReplicaAvailableError(RuntimeError):
    """Every replica behind a :class:`~langchain_selfinstruct.routing.ModelRouter` is benched.

    A model error no retry fixes for now (:func:`is_fatal_model_error`), so the loop stops with
    ``model_error`` instead of failing every step until it stalls. The message names each
    replica and the last error it gave.
    """


class RunStoppedError(RuntimeError):
    """The loop stopped short of its target for a reason the caller did not ask for.

    Raised by ``SelfInstructPipeline.invoke`` / ``stream`` (and their async forms) on a stall or
    a model error, so an empty or short result is never mistaken for success. The cause
    (``__cause__``) is the last exception a step raised, when there was one.

    Attributes:
        stop_reason: ``"stalled"`` or ``"model_error"``.
        stats: The run's counters.
        tasks: The tasks accepted before the stop (also yielded by ``stream`` already).
    """

    def __init__(self, message: str, stats: RunStats, tasks: Sequence[Task]) -> None:
        super().__init__(message)
        self.stop_reason = stats.stop_reason
        self.stats = stats
        self.tasks = list(tasks)


def _chain(error: BaseException, *, implicit: bool = True) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        context = current.__context__ if implicit and not current.__suppress_context__ else None
        current = current.__cause__ or context
    return seen


def is_fatal_model_error(error: BaseException) -> bool:
    """Tell whether ``error`` (or what caused it) is a refused key or permission, or no replica.

    Another call with the same credentials cannot succeed, so the loop stops at once instead of
    waiting out its stall window.
    """
    for link in _chain(error):
        if isinstance(link, NoReplicaAvailableError):
            return True
        if isinstance(link, PermissionError) or type(link).__name__.endswith(_FATAL_NAMES):
            return True
        if getattr(link, "status_code", None) in _FATAL_STATUS:
            return True
    return False


def is_endpoint_failure(error: BaseException) -> bool:
    """Tell whether ``error`` says the server is down or overloaded rather than the request bad.

    Connection refused or reset, a timeout, HTTP 5xx or 429 (after the client's own retries):
    another replica of the model may well answer the same request.
    """
    for link in _chain(error):
        if isinstance(link, (ConnectionError, TimeoutError)):
            return True
        if type(link).__name__.endswith(_UNREACHABLE_NAMES):
            return True
        status = getattr(link, "status_code", None)
        if isinstance(status, int) and (status >= 500 or status == 429):
            return True
    return False


def describe_error(error: BaseException, secrets: Sequence[str] = ()) -> str:
    """``Type: first line`` of the innermost cause of ``error``, with ``secrets`` redacted.

    Only explicit causes (``raise ... from``) are followed, as our step wrappers set them: the
    exception being handled when another was raised is an implementation detail (an SDK's
    ``AuthenticationError`` over the HTTP client's error).
    """
    root = _chain(error, implicit=False)[-1]
    lines = str(root).splitlines()
    message = f"{type(root).__name__}: {lines[0]}" if lines else type(root).__name__
    for secret in secrets:
        message = message.replace(secret, "[redacted]")
    return message
