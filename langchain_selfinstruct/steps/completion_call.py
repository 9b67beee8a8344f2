"""Call a completion model so that the parser still sees its finish reason."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseLLM
from langchain_core.messages import AIMessage
from langchain_core.prompt_values import PromptValue, StringPromptValue
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable, ensure_config
from pydantic import ConfigDict

from langchain_selfinstruct.parsers import generation_to_message
from langchain_selfinstruct.unwrap import rebuild

__all__ = ["CompletionAsMessage", "completions_as_messages"]


class CompletionAsMessage(RunnableSerializable[PromptValue, AIMessage]):
    """Call a completion model and keep its ``generation_info`` (finish reason) for the parser.

    ``BaseLLM.invoke`` returns bare text, which hides whether the output hit the token limit.
    A ``stop`` bound on an outer wrapper (a chat primary with this as a fallback) wins over
    :attr:`stop`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llm: BaseLLM
    stop: list[str] | None = None

    def _prompt(self, input: PromptValue | str) -> PromptValue:
        return StringPromptValue(text=input) if isinstance(input, str) else input

    def _call_args(self, config: RunnableConfig | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        config = ensure_config(config)
        return {
            "stop": kwargs.pop("stop", self.stop),
            "callbacks": config.get("callbacks"),
            "tags": config.get("tags"),
            "metadata": config.get("metadata"),
            "run_name": config.get("run_name"),
            **kwargs,
        }

    def invoke(
        self, input: PromptValue, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """Generate one completion; the model's own run is traced as usual."""
        result = self.llm.generate_prompt([self._prompt(input)], **self._call_args(config, kwargs))
        return generation_to_message(result.generations[0][0])

    async def ainvoke(
        self, input: PromptValue, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """Asynchronous :meth:`invoke`."""
        args = self._call_args(config, kwargs)
        result = await self.llm.agenerate_prompt([self._prompt(input)], **args)
        return generation_to_message(result.generations[0][0])


def completions_as_messages(
    model: Runnable[Any, Any], stop: list[str] | None
) -> Runnable[Any, Any]:
    """``model`` with every completion model in it wrapped in :class:`CompletionAsMessage`."""

    def wrap(leaf: Runnable[Any, Any]) -> Runnable[Any, Any]:
        return CompletionAsMessage(llm=leaf, stop=stop) if isinstance(leaf, BaseLLM) else leaf

    return rebuild(model, wrap)
