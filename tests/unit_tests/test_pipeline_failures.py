"""A run that cannot reach its target says so: no silent ``[]`` from a broken model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.outputs import LLMResult

from langchain_selfinstruct import RunStoppedError, SelfInstructPipeline


class _RefusingLLM(BaseLLM):
    """A completion model whose provider refuses the key on every call."""

    calls: int = 0

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
        type(self).calls += 1
        raise PermissionError("401 invalid api key")


def test_a_model_answering_nothing_raises_naming_the_stall_and_the_last_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipeline = SelfInstructPipeline(
        FakeListLLM(responses=[""]), max_concurrency=2, max_stalled_rounds=1
    )
    warnings = caplog.at_level(logging.WARNING, logger="langchain_selfinstruct")
    with warnings, pytest.raises(RunStoppedError) as caught:
        pipeline.invoke({"num_instructions": 2})
    error = caught.value
    assert error.stop_reason == "stalled"
    assert error.tasks == []
    assert "stalled" in str(error) and "0 of 2" in str(error)
    assert "OutputParserException" in str(error)
    assert error.__cause__ is not None
    assert any("stalled" in record.getMessage() for record in caplog.records)


def test_an_authentication_error_stops_the_run_at_once() -> None:
    _RefusingLLM.calls = 0
    pipeline = SelfInstructPipeline(_RefusingLLM(), max_concurrency=2, max_stalled_rounds=5)
    with pytest.raises(RunStoppedError) as caught:
        pipeline.invoke({"num_instructions": 2})
    assert caught.value.stop_reason == "model_error"
    assert "PermissionError: 401 invalid api key" in str(caught.value)
    assert isinstance(caught.value.__cause__, PermissionError)
    # Only the calls already in flight when the first refusal came back, not five rounds' worth.
    assert _RefusingLLM.calls <= 2


async def test_ainvoke_raises_too() -> None:
    pipeline = SelfInstructPipeline(
        FakeListLLM(responses=[""]), max_concurrency=1, max_stalled_rounds=1
    )
    with pytest.raises(RunStoppedError):
        await pipeline.ainvoke({"num_instructions": 1})


def test_run_reports_the_stop_and_the_last_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _RefusingLLM.calls = 0
    pipeline = SelfInstructPipeline(_RefusingLLM(), max_concurrency=2)
    with caplog.at_level(logging.WARNING, logger="langchain_selfinstruct"):
        summary = pipeline.run(tmp_path / "out", 2)
    assert summary.stats.stop_reason == "model_error"
    assert summary.exit_code != 0
    assert "PermissionError: 401 invalid api key" in summary.stop_detail
    assert summary.stats.to_dict()["last_error"] == "PermissionError: 401 invalid api key"
    assert any("401" in record.getMessage() for record in caplog.records)
