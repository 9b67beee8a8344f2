"""A user's ordinary callback handler sees every model call start and end inside our runs.

langchain-core skips ``on_llm_start`` for handlers that are not inline whenever an inline
handler is present in an async run (langchain-ai/langchain#39633); our usage tracker must not
be that inline handler.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler

from langchain_selfinstruct import (
    FakeSelfInstructLLM,
    Instance,
    SelfInstructPipeline,
    Task,
    TaskReviewer,
)


class _Recorder(BaseCallbackHandler):
    """A plain synchronous handler, as most users write them (not inline)."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def on_llm_start(self, *args: Any, **kwargs: Any) -> None:
        self.events.append("start")

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self.events.append("start")

    def on_llm_end(self, *args: Any, **kwargs: Any) -> None:
        self.events.append("end")


def test_the_pipeline_on_a_completion_model_reports_every_start() -> None:
    recorder = _Recorder()
    pipeline = SelfInstructPipeline(FakeSelfInstructLLM(seed=0), seed=0, max_concurrency=2)
    result = pipeline.invoke({"num_instructions": 3}, config={"callbacks": [recorder]})
    assert len(result) == 3
    ends = recorder.events.count("end")
    assert ends >= 3 and recorder.events.count("start") == ends


def test_an_async_review_reports_every_start_and_still_counts_usage() -> None:
    recorder = _Recorder()
    task = Task(
        id="t", instruction="Add the two numbers.", instances=[Instance(input="2, 3", output="5")]
    )
    review = asyncio.run(
        TaskReviewer(FakeSelfInstructLLM(seed=1)).ainvoke(task, {"callbacks": [recorder]})
    )
    assert recorder.events == ["start", "end"]
    assert review.instances[0].usage.calls == 1
