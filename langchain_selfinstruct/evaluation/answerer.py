"""The model under evaluation answering one task: :class:`ResponseAnswerer`.

It reuses the judge base (:class:`~langchain_selfinstruct.judges.JudgeBase`) rather than a base
of its own: what it needs is exactly what a judge has, one shipped prompt file that can be
overridden, greedy decoding (an evaluation answers the same way every time), an optional cache and
the token usage of each call. Only the sampling (room for a whole reply) and the parser differ.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, ConfigDict, PrivateAttr

from langchain_selfinstruct.evaluation.tasks import EvalItem
from langchain_selfinstruct.judges.base import CallUsage, JudgeBase
from langchain_selfinstruct.parsers._text import InlineParser, fail
from langchain_selfinstruct.presets import SamplingParams
from langchain_selfinstruct.steps.generative import Attempts, GenerativeStep

__all__ = ["ANSWER_SAMPLING", "Answer", "ResponseAnswerer"]

ANSWER_SAMPLING = SamplingParams(
    temperature=0.0,
    max_tokens=384,
    chat_max_tokens=512,
    stop=("\nRequest:",),
)
"""Greedy, room for a short reply; a completion model stops before it invents the next request."""


class Answer(BaseModel):
    """A model's reply to one evaluation item and what it cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    usage: CallUsage = CallUsage()


class _ReplyParser(InlineParser[str]):
    """The reply, stripped; an empty one is unparseable (resampled, then a counted failure)."""

    @property
    def _type(self) -> str:
        return "self_instruct_eval_reply"

    def parse(self, text: str) -> str:
        reply = text.strip()
        if not reply:
            raise fail("The model's reply is empty.", text)
        return reply


class ResponseAnswerer(JudgeBase[EvalItem, Answer]):
    """Ask any LangChain model for its reply to an evaluation task.

    Setup:
        Any LangChain chat or completion model; ``FakeSelfInstructLLM`` answers it offline.

    Instantiate / invoke:
        .. code-block:: python

            from langchain_selfinstruct import FakeSelfInstructLLM
            from langchain_selfinstruct.evaluation import ResponseAnswerer, load_eval_items

            items = load_eval_items()
            answers = ResponseAnswerer(FakeSelfInstructLLM()).batch(items[:4])
            answers[0].text

    One run per item, with the prompt, model and parser runs nested under it. An empty reply is
    resampled up to ``max_retries`` times, then raises ``OutputParserException``.
    """

    name: str | None = "self_instruct.eval_answer"
    """Run name in callbacks and traces."""

    prompt_file: ClassVar[str] = "eval_answer.txt"
    prompt_variables: ClassVar[tuple[str, ...]] = ("instruction", "input")

    sampling: SamplingParams = ANSWER_SAMPLING
    """Decoding settings; default :data:`ANSWER_SAMPLING` (greedy, a few hundred tokens)."""

    _chain: Attempts[str] = PrivateAttr()

    def __init__(self, llm: Runnable[Any, Any], **kwargs: Any) -> None:
        super().__init__(llm, **kwargs)

    def _build(self) -> None:
        prompt = self._judge_prompt()
        self._prompts = [prompt]
        # The chain's output is the reply text, not the step's Answer (which adds the usage).
        steps = cast("GenerativeStep[Any, str]", self)
        self._chain = steps._text_chain(prompt, _ReplyParser())

    def invoke(
        self, input: EvalItem, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Answer:
        """Answer one item, in one run with the model call nested under it."""
        return self._call_with_config(self._answer, input, config)

    async def ainvoke(
        self, input: EvalItem, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Answer:
        """Async :meth:`invoke`."""
        return await self._acall_with_config(self._aanswer, input, config)

    def _answer(
        self, input: EvalItem, run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> Answer:
        text, usage = self._call(self._chain, _variables(input), config)
        return Answer(text=text, usage=usage)

    async def _aanswer(
        self, input: EvalItem, run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> Answer:
        text, usage = await self._acall(self._chain, _variables(input), config)
        return Answer(text=text, usage=usage)


def _variables(item: EvalItem) -> dict[str, Any]:
    return {"instruction": item.instruction, "input": item.shown_input}
