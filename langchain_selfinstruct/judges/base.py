"""The shared base of every judge: a rubric prompt file, a constrained verdict, retries, usage.

A judge is a :class:`~langchain_selfinstruct.steps.generative.GenerativeStep` with judge
defaults, so it gets exactly the steps' model handling: ``prompt | model | parser`` (or
``with_structured_output`` where the model supports it), with resampled retries behind a fallback
on unparseable output (bounded by ``max_retries``). What a judge adds:

- its prompt is one plain text file under ``prompts/`` (``prompt_file``), used for chat and
  completion models alike, and can be overridden with a template or a path;
- it decodes greedily (temperature 0) and may use a cache, since the same question should get the
  same answer (the sampling steps never cache);
- every call reports its own token usage (:class:`CallUsage`), so a review or a grade records
  what it cost, next to the run's totals.

Order randomisation for judges that compare answers lives in
:mod:`langchain_selfinstruct.judges.positions`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, cast

from langchain_core.caches import BaseCache
from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import merge_configs
from pydantic import BaseModel, ConfigDict, field_validator

from langchain_selfinstruct.judges.verdict import Verdict, VerdictParser
from langchain_selfinstruct.presets import SamplingParams
from langchain_selfinstruct.stats import UsageTracker
from langchain_selfinstruct.steps.generative import Attempts, GenerativeStep
from langchain_selfinstruct.steps.model_setup import with_cache
from langchain_selfinstruct.steps.prompt_loading import (
    PromptOverride,
    coerce_prompt,
    default_prompt,
)

__all__ = ["JUDGE_SAMPLING", "CallUsage", "JudgeBase", "Verdicts"]

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")
T = TypeVar("T")

Verdicts = dict[str, Verdict]
"""A judge's parsed answer: question key -> verdict."""

JUDGE_SAMPLING = SamplingParams(
    temperature=0.0,
    max_tokens=200,
    chat_max_tokens=400,
    stop=("\n\n\n", "\nInstruction:"),
)
"""Greedy decoding, room for a few short reasons; a completion model is stopped before it starts
inventing the next example."""


class CallUsage(BaseModel):
    """What one judge call cost: model calls (retries included), errors and tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    calls: int = 0
    """Model calls that returned (a retry after unparseable output is one more)."""
    errors: int = 0
    """Model calls that raised."""
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @classmethod
    def of(cls, tracker: UsageTracker) -> CallUsage:
        """Snapshot a tracker's counters."""
        return cls(
            calls=tracker.calls,
            errors=tracker.errors,
            prompt_tokens=tracker.prompt_tokens,
            completion_tokens=tracker.completion_tokens,
        )


class JudgeBase(GenerativeStep[InputT, OutputT]):
    """Base of the judges; a subclass names its prompt file and builds its chain in ``_build``.

    Subclasses set ``prompt_file`` and ``prompt_variables``, build with :meth:`_judge_prompt`
    and :meth:`_verdict_chain` (a :class:`~langchain_selfinstruct.judges.verdict.VerdictParser`
    for text, a pydantic schema for structured output), and call :meth:`_acall` / :meth:`_call`
    to get the parsed verdict together with the call's :class:`CallUsage`.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    prompt_file: ClassVar[str] = ""
    """The shipped prompt, a file under ``prompts/``."""
    prompt_variables: ClassVar[tuple[str, ...]] = ()
    """Variables the prompt must use."""

    sampling: SamplingParams = JUDGE_SAMPLING
    """Decoding settings; default :data:`JUDGE_SAMPLING` (temperature 0)."""
    cache: BaseCache | bool | None = None
    """An LLM cache for the judge's calls (a ``BaseCache``, ``True`` for the global one, ``False``
    for none); default ``None``: the model's own setting. Safe because judging is greedy."""
    prompt: PromptOverride = None
    """Prompt override (a template or a path to an f-string template file); default the shipped
    ``prompt_file``."""

    def __init__(self, llm: Runnable[Any, Any], **kwargs: Any) -> None:
        super().__init__(llm, **kwargs)

    @field_validator("prompt", mode="before")
    @classmethod
    def _check_prompt(cls, value: object) -> object:
        variables = cls.prompt_variables
        return coerce_prompt(value, required=variables, allowed=variables)

    def model_post_init(self, context: Any, /) -> None:
        """Apply the cache setting, then build as every step does."""
        if self.cache is not None:
            self.llm = with_cache(self.llm, self.cache)
        super().model_post_init(context)

    def _judge_prompt(self) -> BasePromptTemplate[Any]:
        return self.prompt if self.prompt is not None else default_prompt(self.prompt_file)

    def _verdict_chain(
        self,
        parser: VerdictParser,
        schema: type[BaseModel],
        convert: Callable[[Any], dict[str, Verdict]],
    ) -> Attempts[Verdicts]:
        """The judge's chain: prompt, model, then the verdict parser or the structured schema.

        Every judge's chain returns verdicts, whatever the judge's own output type, so the
        steps' chain builders are used with that output type.
        """
        steps = cast("GenerativeStep[Any, Verdicts]", self)
        return steps._choose_chain(self._judge_prompt(), (parser, ()), (schema, convert))

    def _call(
        self,
        chain: Attempts[T],
        variables: dict[str, Any],
        config: RunnableConfig | None,
    ) -> tuple[T, CallUsage]:
        """Run ``chain`` once (with its retries) and count what it cost."""
        tracker, tracked = _tracked(config)
        return chain.invoke(variables, tracked), CallUsage.of(tracker)

    async def _acall(
        self,
        chain: Attempts[T],
        variables: dict[str, Any],
        config: RunnableConfig | None,
    ) -> tuple[T, CallUsage]:
        """Async :meth:`_call`."""
        tracker, tracked = _tracked(config, asynchronous=True)
        return await chain.ainvoke(variables, tracked), CallUsage.of(tracker)


def _tracked(
    config: RunnableConfig | None, *, asynchronous: bool = False
) -> tuple[UsageTracker, RunnableConfig]:
    """A fresh tracker for one call, added to the caller's callbacks (which still see the call)."""
    tracker = UsageTracker()
    handler = tracker.async_view() if asynchronous else tracker
    return tracker, merge_configs(config, {"callbacks": [handler]})
