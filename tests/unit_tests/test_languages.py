"""Runs in Chinese, Japanese, Arabic and French (issue 13): one tokenizer setting for every rule.

The seed tasks and the model's answers in ``languages/*.json`` are our own writing. The scripted
model answers in the seed language: two new instructions per generation call, in the order the
fixture lists them, the first pair holding a one-character (one-word) near-duplicate of its
first item and the second a near-duplicate of a seed task.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM
from langchain_core.outputs import Generation, LLMResult

from langchain_selfinstruct import SelfInstructPipeline
from langchain_selfinstruct.cli import main
from langchain_selfinstruct.dedup import NearDuplicateIndex
from langchain_selfinstruct.errors import RunStoppedError
from langchain_selfinstruct.run_store import RunDirectory, RunDirectoryError
from langchain_selfinstruct.schema import Instance, Task
from langchain_selfinstruct.steps import InstructionFilter

LANGUAGES = ("zh", "ja", "ar", "fr")
_DIR = Path(__file__).parent / "languages"


def _fixture(lang: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def _seeds(data: dict[str, Any]) -> list[Task]:
    return [
        Task(
            id=f"seed_task_{n}",
            instruction=text,
            instances=[Instance(input="", output=data["output"])],
            is_classification=False,
            source="seed",
        )
        for n, text in enumerate(data["seeds"])
    ]


class LanguageScript(BaseLLM):
    """A completion model that answers every step in one language, instructions in script order.

    The queue is shared by reference, so a copy the pipeline makes serves the same script.
    """

    instructions: deque[str]
    output: str

    @property
    def _llm_type(self) -> str:
        return "language-script"

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        return LLMResult(generations=[[self._answer(prompt)] for prompt in prompts])

    def _answer(self, prompt: str) -> Generation:
        info = {"finish_reason": "stop"}
        if prompt.rstrip().endswith("Is it classification?"):
            return Generation(text=" No", generation_info=info)
        if any(line.startswith("Task:") for line in prompt.splitlines()):
            return Generation(text=f"Example 1\nOutput: {self.output}", generation_info=info)
        pair = [self.instructions.popleft() for _ in range(2) if len(self.instructions) > 1]
        if not pair:  # the script ran out: say the last one again, a duplicate of the pool
            pair = [self.instructions[0]]
        text = " " + "\n".join(t if i == 0 else f"{i + 9}. {t}" for i, t in enumerate(pair))
        return Generation(text=text, generation_info=info)


def _script(data: dict[str, Any]) -> LanguageScript:
    new = list(data["new"])
    order = [new[0], data["batch_duplicate"], data["pool_duplicate"], *new[1:]]
    return LanguageScript(instructions=deque(order), output=data["output"])


def _unicode_index(data: dict[str, Any]) -> NearDuplicateIndex:
    index = NearDuplicateIndex(tokenizer="unicode")
    index.add(data["seeds"])
    return index


@pytest.mark.parametrize("lang", LANGUAGES)
def test_filter_with_a_unicode_index_counts_and_compares_in_that_language(lang: str) -> None:
    data = _fixture(lang)
    batch = [data["new"][0], data["batch_duplicate"], data["pool_duplicate"], data["new"][1]]
    result = InstructionFilter(index=_unicode_index(data)).invoke(batch)
    assert result.kept == [data["new"][0], data["new"][1]]
    against = {r.text: (r.reason, r.detail["against"]) for r in result.rejected}
    assert against == {
        data["batch_duplicate"]: ("near_duplicate", "batch"),
        data["pool_duplicate"]: ("near_duplicate", "pool"),
    }


@pytest.mark.parametrize("lang", ["zh", "ja"])
def test_a_standalone_filter_takes_the_tokenizer_setting(lang: str) -> None:
    data = _fixture(lang)
    result = InstructionFilter(tokenizer="unicode").invoke(
        [data["new"][0], data["batch_duplicate"]]
    )
    assert result.kept == [data["new"][0]]
    assert result.stats["dropped_near_duplicate"] == 1
    # The paper's setting counts a sentence without spaces as one word.
    assert InstructionFilter().invoke([data["new"][0]]).rejected[0].reason == "too_short"


def test_tokenizers_that_disagree_are_refused() -> None:
    with pytest.raises(ValueError, match="tokenizer"):
        InstructionFilter(tokenizer="rouge", index=NearDuplicateIndex(tokenizer="unicode"))
    data = _fixture("zh")
    with pytest.raises(ValueError, match="tokenizers differ"):
        SelfInstructPipeline(
            _script(data),
            seed_tasks=_seeds(data),
            tokenizer="rouge",
            index=NearDuplicateIndex(tokenizer="unicode"),
        )


def _rejects(out: Path) -> dict[str, tuple[str, str | None]]:
    records = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    return {r["instruction"]: (r["reason"], r["detail"].get("against")) for r in records}


@pytest.mark.parametrize("how", ["index", "setting"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_run_reaches_its_target_and_rejects_near_duplicates(
    lang: str, how: str, tmp_path: Path
) -> None:
    data = _fixture(lang)
    options: dict[str, Any] = (
        {"index": _unicode_index({"seeds": []})} if how == "index" else {"tokenizer": "unicode"}
    )
    pipeline = SelfInstructPipeline(
        _script(data), seed_tasks=_seeds(data), max_concurrency=1, **options
    )
    summary = pipeline.run(tmp_path, 5)
    assert summary.stats.stop_reason == "target"
    tasks = [json.loads(line) for line in (tmp_path / "tasks.jsonl").read_text().splitlines()]
    assert [t["instruction"] for t in tasks] == data["new"][:5]
    rejects = _rejects(tmp_path)
    assert rejects[data["batch_duplicate"]] == ("near_duplicate", "batch")
    assert rejects[data["pool_duplicate"]] == ("near_duplicate", "pool")
    assert json.loads((tmp_path / "settings.json").read_text())["tokenizer"] == "unicode"


@pytest.mark.parametrize(("lang", "reason"), [("zh", "too_short"), ("ar", "non_ascii_start")])
def test_a_stalled_run_names_its_main_reject_reason_and_the_setting(
    lang: str, reason: str, tmp_path: Path
) -> None:
    data = _fixture(lang)
    pipeline = SelfInstructPipeline(
        _script(data), seed_tasks=_seeds(data), max_concurrency=1, max_stalled_rounds=2
    )
    summary = pipeline.run(tmp_path, 5)
    assert summary.stats.stop_reason == "stalled"
    assert f"{reason} dominates" in summary.stop_detail
    assert "--tokenizer unicode" in summary.stop_detail
    with pytest.raises(RunStoppedError, match="tokenizer='unicode'"):
        SelfInstructPipeline(
            _script(data), seed_tasks=_seeds(data), max_concurrency=1, max_stalled_rounds=2
        ).invoke({"num_instructions": 5})


def _settings(**changes: Any) -> dict[str, Any]:
    base = {"seed_tasks_sha256": "s", "preset_sha256": "p", "preset": "faithful", "model": "m"}
    return {**base, "seed": 0, "max_concurrency": 8, **changes}


def test_resume_with_another_tokenizer_is_refused(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(json.dumps(_settings(tokenizer="unicode")))
    with pytest.raises(RunDirectoryError, match=r"tokenizer differs.*--tokenizer unicode"):
        RunDirectory(tmp_path).check(_settings(tokenizer="rouge"))
    RunDirectory(tmp_path).check(_settings(tokenizer="unicode"))


def test_settings_from_before_the_tokenizer_resume_as_rouge(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(json.dumps(_settings()))
    RunDirectory(tmp_path).check(_settings(tokenizer="rouge"))
    with pytest.raises(RunDirectoryError, match="'rouge' there, 'unicode' now"):
        RunDirectory(tmp_path).check(_settings(tokenizer="unicode"))


def test_the_cli_takes_the_tokenizer(tmp_path: Path) -> None:
    args = ["generate", "--model", "fake", "-n", "2", "--out", str(tmp_path), "--quiet"]
    result = CliRunner().invoke(main, [*args, "--tokenizer", "unicode"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "settings.json").read_text())["tokenizer"] == "unicode"
    again = CliRunner().invoke(main, args)
    assert again.exit_code != 0
    assert "--tokenizer unicode" in again.output
