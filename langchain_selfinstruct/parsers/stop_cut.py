"""Cut a response at its first stop sequence before parsing, for backends that ignore ``stop``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, TypeVar

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import BaseOutputParser
from langchain_core.outputs import ChatGeneration, Generation
from pydantic import SkipValidation

from langchain_selfinstruct.parsers._text import FINISH_KEYS, InlineParser

__all__ = ["StopCutParser", "cut_at_stop", "generation_to_message"]

OutputT = TypeVar("OutputT")


def cut_at_stop(output: str | BaseMessage, stop: Collection[str]) -> BaseMessage:
    """Cut a response at its first stop sequence.

    A response cut here ended at a stop sequence, so it no longer counts as truncated. Anything
    else on the message (usage, ids) is kept.
    """
    message = output if isinstance(output, BaseMessage) else AIMessage(content=output)
    text = str(message.text)
    cuts = [index for index in (text.find(s) for s in stop) if index >= 0]
    if not cuts:
        return message
    metadata = {k: v for k, v in message.response_metadata.items() if k not in FINISH_KEYS}
    metadata["finish_reason"] = "stop"
    return message.model_copy(update={"content": text[: min(cuts)], "response_metadata": metadata})


def generation_to_message(generation: Generation) -> AIMessage:
    """A completion model's generation as a message that keeps its ``generation_info``."""
    return AIMessage(
        content=generation.text, response_metadata=dict(generation.generation_info or {})
    )


class StopCutParser(InlineParser[OutputT]):
    """``parser`` applied to the response cut at its first stop sequence (see :func:`cut_at_stop`).

    One parser rather than a cutting step before it: each Runnable in a chain costs a child run
    and, for a sync function, a thread-pool hop, on every model call.
    """

    parser: Annotated[BaseOutputParser[Any], SkipValidation]
    stop: tuple[str, ...]

    @property
    def _type(self) -> str:
        return "self_instruct_stop_cut"

    def parse(self, text: str) -> OutputT:
        """Cut ``text`` at its first stop sequence and parse it."""
        parsed: OutputT = self.parser.parse(str(cut_at_stop(text, self.stop).text))
        return parsed

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> OutputT:
        """Cut the first generation at its first stop sequence and parse it."""
        first = result[0]
        if isinstance(first, ChatGeneration):
            message = first.message
        else:
            message = generation_to_message(first)
        cut = ChatGeneration(message=cut_at_stop(message, self.stop))
        parsed: OutputT = self.parser.parse_result([cut], partial=partial)
        return parsed
