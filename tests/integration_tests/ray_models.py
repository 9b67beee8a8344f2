"""Model factories the Ray tests name as ``module:function`` (replicas import them by name)."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM
from langchain_core.outputs import LLMResult

from langchain_selfinstruct import FakeSelfInstructLLM


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


class ReportingLLM(FakeSelfInstructLLM):
    """The fake model at 50 ms, reporting with each answer the process it ran in.

    Each result's ``llm_output`` says the process's nice value and the most calls this process
    had in flight at once so far; the driver's callbacks get it in the replayed events.
    """

    _in_flight: ClassVar[int] = 0
    _most_in_flight: ClassVar[int] = 0

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        cls = type(self)
        cls._in_flight += 1
        cls._most_in_flight = max(cls._most_in_flight, cls._in_flight)
        try:
            result = await super()._agenerate(prompts, stop, run_manager, **kwargs)
        finally:
            cls._in_flight -= 1
        report = {"nice": os.nice(0), "most_in_flight": cls._most_in_flight}
        return LLMResult(
            generations=result.generations, llm_output={**(result.llm_output or {}), **report}
        )


def reporting_model() -> ReportingLLM:
    """The factory: the fake model at 50 ms that reports where it ran."""
    return ReportingLLM(latency_s=0.05)
