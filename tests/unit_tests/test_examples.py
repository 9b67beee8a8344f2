"""The runnable examples in examples/, run against fake models (and once on the embedded one)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import pytest_socket
from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM, FakeListLLM
from langchain_core.outputs import Generation, LLMResult
from pydantic import Field

from langchain_selfinstruct import FakeSelfInstructLLM, Task, load_tasks
from tests.markers import NEEDS_LOCAL

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """Import examples/<name>.py as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


class PromptLog(BaseCallbackHandler):
    """Records every prompt a completion model receives."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], **kwargs: Any) -> None:
        self.prompts.extend(prompts)


class KeywordJudge(BaseLLM):
    """A judge model that answers No exactly when the judged instruction contains ``veto``."""

    veto: str

    @property
    def _llm_type(self) -> str:
        return "keyword-judge"

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        answers = []
        for prompt in prompts:
            match = re.search(r"^Instruction: (.*)$", prompt, flags=re.MULTILINE)
            assert match is not None, prompt
            answers.append(" No" if self.veto in match.group(1).split() else " Yes")
        return LLMResult(generations=[[Generation(text=answer)] for answer in answers])


class ByEndingLLM(BaseLLM):
    """A completion model that answers each prompt by how it ends, and logs which ending matched."""

    replies: dict[str, str]
    calls: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "by-ending"

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        endings = [next(end for end in self.replies if p.endswith(end)) for p in prompts]
        self.calls.extend(endings)
        return LLMResult(generations=[[Generation(text=self.replies[end])] for end in endings])


def assert_well_formed(task: Task, max_instances: int) -> None:
    assert task.instruction.strip()
    assert isinstance(task.is_classification, bool)
    assert 1 <= len(task.instances) <= max_instances
    for instance in task.instances:
        assert instance.output.strip()
        assert instance.output.strip() != instance.input.strip()


# --------------------------------------------------------------------------- compose_steps


def test_compose_steps_runs_the_four_steps_with_the_custom_prompt() -> None:
    example = load_example("compose_steps")
    log = PromptLog()
    tasks = example.main(FakeSelfInstructLLM(callbacks=[log]))
    first_prompt = log.prompts[0]
    assert first_prompt.startswith("Here is a numbered list of practical tasks that a home cook")
    assert "\n1. Suggest a vegetarian dinner" in first_prompt
    assert first_prompt.endswith("\n9.")
    assert 1 <= len(tasks) <= 3
    assert [task.id for task in tasks] == [f"kitchen_task_{i}" for i in range(len(tasks))]
    for task in tasks:
        assert task.instruction not in example.SEED_INSTRUCTIONS
        assert task.source == "machine"
        assert_well_formed(task, max_instances=3)  # the fast preset's limit


LABELLED_CHEESES = "Class label: Soft\nInput: Brie\nClass label: Hard\nInput: Parmesan"


def test_compose_steps_reports_a_task_whose_instances_never_parse(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = load_example("compose_steps")
    spice = "Name a spice that goes well with lemon in a dessert."
    cheese = "Tell whether the cheese is soft or hard."
    llm = ByEndingLLM(
        replies={
            "\n9.": f" {spice}\n10. {cheese}",  # instruction generation continues the list
            f"Task: {spice}\nIs it classification?": " No",
            f"Task: {cheese}\nIs it classification?": " Yes",
            f"Task: {spice}\n": "no idea",  # unparseable instances, every time
            f"Task: {cheese}\n": LABELLED_CHEESES,
        }
    )
    tasks = example.main(llm)
    assert [(t.instruction, t.is_classification) for t in tasks] == [(cheese, True)]
    assert [(i.input, i.output) for i in tasks[0].instances] == [
        ("Brie", "Soft"),
        ("Parmesan", "Hard"),
    ]
    assert f"skipped {spice!r}" in capsys.readouterr().out
    assert llm.calls.count(f"Task: {spice}\n") == 3  # the first try and two retries


@pytest.mark.local_model
@NEEDS_LOCAL
def test_compose_steps_on_the_embedded_model(capsys: pytest.CaptureFixture[str]) -> None:
    from langchain_selfinstruct import load_embedded_model

    example = load_example("compose_steps")
    log = PromptLog()
    # Seed 2 makes the embedded model's first new instruction one whose instances parse, so the
    # whole round runs once (~15 s of CPU); on another llama.cpp build it may be skipped instead.
    tasks = example.main(load_embedded_model(seed=2, callbacks=[log]), max_tasks=1)
    assert log.prompts[0].startswith("Here is a numbered list of practical tasks")
    assert len(tasks) <= 1
    out = capsys.readouterr().out
    for task in tasks:
        assert task.instruction not in example.SEED_INSTRUCTIONS
        assert_well_formed(task, max_instances=3)
        assert f"] {task.instruction}\n" in out
    assert tasks or "skipped" in out or len(log.prompts) == 1  # reported, never lost


# --------------------------------------------------------------------------- swap_providers

PROVIDER_ENV = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "SELFINSTRUCT_BASE_URL")


@pytest.fixture
def no_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key, no server, no integration package: every hosted provider must skip."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    for package in ("langchain_anthropic", "langchain_ollama"):
        monkeypatch.setitem(sys.modules, package, None)  # find_spec() then reports it missing


@pytest.fixture
def no_network() -> Iterator[None]:
    """Block every internet socket; asyncio's event loop still gets its local socket pair."""
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()


def test_swap_providers_skips_every_absent_provider_and_runs_the_local_one(
    no_providers: None, no_network: None, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load_example("swap_providers")
    runs = example.main(FakeSelfInstructLLM(), num_instructions=2)
    assert [run.provider for run in runs] == [
        "openai",
        "anthropic",
        "ollama",
        "openai-compatible",
        "local",
    ]
    skipped = {run.provider: run.skipped for run in runs[:4]}
    assert "OPENAI_API_KEY is not set" in skipped["openai"]
    assert "pip install langchain-anthropic" in skipped["anthropic"]
    assert "pip install langchain-ollama" in skipped["ollama"]
    assert "SELFINSTRUCT_BASE_URL is not set" in skipped["openai-compatible"]
    assert all(not run.tasks for run in runs[:4])
    local = runs[4]
    assert local.skipped is None
    assert len(local.tasks) == 2
    for task in local.tasks:
        assert_well_formed(task, max_instances=3)
    out = capsys.readouterr().out
    assert out.count("skipped (") == 4
    assert f"local: 2 new tasks, e.g. {local.tasks[0].instruction}" in out


def test_swap_providers_skips_a_malformed_server_url_without_any_request(
    no_providers: None, no_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SELFINSTRUCT_BASE_URL", "localhost:8000/v1")
    example = load_example("swap_providers")
    run = example.run_on("openai-compatible", example.openai_compatible, 1)
    assert run.tasks == []
    assert "must start with http:// or https://" in run.skipped


# --------------------------------------------------------------------------- in_a_chain


def test_in_a_chain_uses_the_pipeline_and_the_instance_generator_as_steps() -> None:
    example = load_example("in_a_chain")
    log = PromptLog()
    outputs = example.main(FakeSelfInstructLLM(callbacks=[log]))

    lines = outputs.report.splitlines()
    assert lines[:4] == [
        "## New tasks",
        "",
        "| Instruction | Kind | Example |",
        "| --- | --- | --- |",
    ]
    rows = [line.split(" | ") for line in lines[4:]]
    assert len(rows) == 3
    assert all(row[1] in ("open", "classification") and "Output:" in row[2] for row in rows)

    answer_prompt = log.prompts[-2]  # the tool's own call comes last
    assert answer_prompt.startswith("Convert the temperature from Celsius to Fahrenheit.\n\n")
    assert answer_prompt.endswith("\n\nInput: 25 C\nOutput:")
    # The few-shot examples in between are the instance generator's.
    assert "Output: For 'Convert the temperature" in answer_prompt
    assert outputs.answer.strip()

    blocks = outputs.tool_output.split("\n\n")
    assert 1 <= len(blocks) <= 3
    for block in blocks:
        input_line, output_line = block.splitlines()
        assert input_line.startswith("Input: ")
        # A classification task is prompted output-first, so each output is a bare label.
        assert re.fullmatch(r"Output: \w+", output_line)


def test_the_instance_generator_tool_has_a_typed_schema() -> None:
    example = load_example("in_a_chain")
    tool = example.examples_tool(FakeSelfInstructLLM())
    assert tool.name == "write_examples"
    assert set(tool.args) == {"instruction", "is_classification"}
    assert tool.args["is_classification"]["default"] is False
    output = tool.invoke({"instruction": "Summarize the paragraph in one sentence."})
    assert output.startswith("Input: ")
    assert "Output: For 'Summarize the paragraph" in output


# --------------------------------------------------------------------------- custom_filter


def test_custom_filter_rules_reject_by_their_own_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load_example("custom_filter")
    summary = example.main(
        FakeSelfInstructLLM(), judge=KeywordJudge(veto="one"), out_dir=tmp_path, num_instructions=5
    )
    assert summary.stats.accepted == 5
    assert summary.stats.rejected["over_50_chars"] >= 1
    assert summary.stats.rejected["judge:unclear"] >= 1

    tasks = load_tasks(tmp_path / "tasks.jsonl")
    assert len(tasks) == 5
    for task in tasks:
        assert len(task.instruction) <= example.MAX_CHARS
        assert "one" not in task.instruction.split()
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    for record in rejects:
        if record["reason"] == "over_50_chars":
            assert len(record["instruction"]) > example.MAX_CHARS
        if record["reason"] == "judge:unclear":
            assert "one" in record["instruction"].split()
    out = capsys.readouterr().out
    assert re.search(r"\d+ over_50_chars +e\.g\. '", out)
    assert re.search(r"\d+ judge:unclear +e\.g\. '", out)


def test_a_judge_answering_garbage_rejects_visibly_and_the_run_stops(tmp_path: Path) -> None:
    example = load_example("custom_filter")
    summary = example.main(
        FakeSelfInstructLLM(),
        judge=FakeListLLM(responses=["Perhaps, it depends."]),
        out_dir=tmp_path,
        num_instructions=2,
    )
    assert summary.stats.accepted == 0
    assert summary.stats.stop_reason == "stalled"
    assert summary.stats.rejected["judge:no_verdict"] >= 1


# --------------------------------------------------------------------------- quickstart


def test_quickstart_streams_new_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    example = load_example("quickstart")
    tasks = example.main(FakeSelfInstructLLM(), num_instructions=3)
    assert [task.id for task in tasks] == ["machine_task_0", "machine_task_1", "machine_task_2"]
    out = capsys.readouterr().out.splitlines()
    for task, line in zip(tasks, out, strict=True):
        assert_well_formed(task, max_instances=3)
        assert line == f"{task.id}: {task.instruction} ({len(task.instances)} instances)"
