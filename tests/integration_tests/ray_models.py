"""Model factories the Ray tests name as ``module:function`` (replicas import them by name)."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM
from langchain_core.outputs import LLMResult


class KeyRefusedAuthenticationError(Exception):
    """Named like a provider SDK's refusal of a key, which the loop treats as fatal."""


class RefusingLLM(BaseLLM):
    """Refuses every call, as a provider does with a revoked key."""

    @property
    def _llm_type(self) -> str:
        return "refusing"

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        raise KeyRefusedAuthenticationError("this key was revoked")


def refusing_model() -> RefusingLLM:
    """The factory: a model whose key is refused."""
    return RefusingLLM()
