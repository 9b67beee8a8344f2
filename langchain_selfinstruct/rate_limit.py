"""Rate limiting for chat and completion models alike.

A chat model has its own ``rate_limiter`` field (langchain-core's ``BaseChatModel``), which is used
as it is. A completion model (``BaseLLM``) has no such hook, so it gets a step in front of it that
acquires the limiter and passes its input on: ``AcquireRateLimit(rate_limiter=...) | llm``. The
steps see through that sequence (:mod:`langchain_selfinstruct.unwrap`) to the model behind it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel, BaseLanguageModel, BaseLLM
from langchain_core.rate_limiters import BaseRateLimiter
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from pydantic import ConfigDict

from langchain_selfinstruct.errors import ModelConfigError

__all__ = ["AcquireRateLimit", "with_rate_limiter"]

InputT = TypeVar("InputT")


class AcquireRateLimit(RunnableSerializable[InputT, InputT]):
    """Wait for one token of ``rate_limiter``, then pass the input on unchanged.

    Example:
        .. code-block:: python

            limiter = InMemoryRateLimiter(requests_per_second=2)
            limited = AcquireRateLimit(rate_limiter=limiter) | llm
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str | None = "acquire_rate_limit"
    rate_limiter: BaseRateLimiter
    """The limiter to acquire before each call."""

    def invoke(self, input: InputT, config: RunnableConfig | None = None, **kwargs: Any) -> InputT:
        """Block until the limiter grants a call, then return ``input``."""
        self.rate_limiter.acquire(blocking=True)
        return input

    async def ainvoke(
        self, input: InputT, config: RunnableConfig | None = None, **kwargs: Any
    ) -> InputT:
        """Async :meth:`invoke`."""
        await self.rate_limiter.aacquire(blocking=True)
        return input


def with_rate_limiter(
    llm: BaseLanguageModel[Any], rate_limiter: BaseRateLimiter | None
) -> Runnable[Any, Any]:
    """Rate-limit a model: its own ``rate_limiter`` for a chat model, an acquire step otherwise.

    Args:
        llm: A chat or completion model.
        rate_limiter: The limiter, or ``None`` to return ``llm`` as it is.

    Returns:
        The limited model (a copy; the caller's model is left alone).

    Raises:
        ModelConfigError: ``llm`` is neither a chat nor a completion model.
    """
    if rate_limiter is None:
        return llm
    if isinstance(llm, BaseChatModel):
        return llm.model_copy(update={"rate_limiter": rate_limiter})
    if isinstance(llm, BaseLLM):
        return AcquireRateLimit[Any](rate_limiter=rate_limiter) | llm
    raise ModelConfigError(f"cannot rate-limit a {type(llm).__name__}: limit it yourself")
