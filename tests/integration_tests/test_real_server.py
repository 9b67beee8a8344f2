"""The loop against a real OpenAI-compatible server: llama-cpp-python's, serving SmolLM2 locally.

This is the code path of a user pointing the package at OpenAI, vLLM or any hosted provider:
``langchain_openai.OpenAI`` (completions) and ``ChatOpenAI`` (chat) with ``base_url``. The server
runs on 127.0.0.1 and needs no network. Runs are kept short: a small seed pool of short
instructions, the ``fast`` preset and a target of two tasks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langchain_selfinstruct import SelfInstructPipeline, Task
from langchain_selfinstruct.schema import Instance
from langchain_selfinstruct.stats import RunStats
from langchain_selfinstruct.steps import ClassificationIdentifier, InstanceGenerator
from tests.integration_tests.conftest import assert_every_candidate_is_accounted_for
from tests.integration_tests.servers.llama_server import MODEL_ALIAS, LlamaServer

# Any connection to somewhere other than the local server fails the test.
pytestmark = [pytest.mark.local_model, pytest.mark.allow_hosts(["127.0.0.1"])]

UNUSED_KEY = SecretStr("unused")  # the local server checks no key, the client wants one

# Short instructions keep the prompts, and so the test, short.
SEEDS = [
    Task(id=f"short_{number}", instruction=text, instances=[Instance(output=output)])
    for number, (text, output) in enumerate(
        [
            ("Suggest a name for a bakery.", "Golden Crust"),
            ("Write a haiku about rain.", "Rain taps the window"),
            ("Give a synonym for happy.", "Cheerful"),
            ("Explain what a noun is.", "A word that names a thing."),
            ("List three kinds of fruit.", "Apple, pear, plum"),
            ("Translate 'good night' into German.", "Gute Nacht"),
            ("Tell me a fun fact about owls.", "Owls cannot move their eyes."),
            ("Describe the colour green.", "The colour of fresh grass."),
            ("Name a river in Africa.", "The Niger"),
            ("Suggest a hobby for a rainy day.", "Knitting"),
        ]
    )
]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_cli_reaches_its_target_through_the_completions_api(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(task.model_dump_json() + "\n" for task in SEEDS), encoding="utf-8")
    out = tmp_path / "run"
    command = [
        *(sys.executable, "-c", "from langchain_selfinstruct.cli import main; main()"),
        "generate",
        *("-n", "2", "--out", str(out), "--seed-tasks", str(seeds)),
        *("--base-url", llama_server.base_url, "--model", MODEL_ALIAS, "--completion"),
        *("--preset", "fast", "--concurrency", "1", "--json", "--quiet"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + llama_server.log_tail()

    summary = json.loads(done.stdout)
    assert summary["stop_reason"] == "target"
    assert summary["total_tasks"] == summary["accepted"] == 2
    assert summary["model_calls"] >= 5  # one list, then a Yes/No and instances for each task
    assert summary["model_errors"] == 0
    assert summary["prompt_tokens"] > 0 and summary["completion_tokens"] > 0
    assert_every_candidate_is_accounted_for(summary)
    tasks = _lines(out / "tasks.jsonl")
    assert [task["id"] for task in tasks] == ["machine_task_0", "machine_task_1"]
    for task in tasks:
        assert task["instruction"].strip() and task["instances"]
        assert task["model"] == f"openai-compatible:{MODEL_ALIAS}@{llama_server.base_url}"
        assert set(task["prompt_task_ids"]) <= {seed.id for seed in SEEDS}
    settings = json.loads((out / "settings.json").read_text(encoding="utf-8"))
    assert settings["model"] == tasks[0]["model"]
    assert settings["seed_tasks_count"] == len(SEEDS)


def test_the_pipeline_runs_every_round_through_the_chat_api(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    chat = ChatOpenAI(
        model=MODEL_ALIAS, base_url=llama_server.base_url, api_key=UNUSED_KEY, timeout=120, seed=0
    )
    pipeline = SelfInstructPipeline(
        chat, seed_tasks=SEEDS, preset="fast", max_concurrency=1, max_stalled_rounds=1
    )
    summary = pipeline.run(tmp_path, 2)
    stats: RunStats = summary.stats
    # A 135M chat model mostly echoes its examples, so the run may stall rather than reach the
    # target; either way it stops by itself and the server accepted every request it was sent.
    assert stats.stop_reason in ("target", "stalled")
    assert stats.model_errors == 0, llama_server.log_tail()
    assert stats.model_calls >= stats.rounds > 0
    assert stats.generated_instructions > 0
    assert stats.prompt_tokens > 0
    recorded = json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))
    assert_every_candidate_is_accounted_for(recorded)
    assert len(_lines(tmp_path / "tasks.jsonl")) == stats.accepted
    assert len(_lines(tmp_path / "rejects.jsonl")) == sum(stats.rejected.values()) + sum(
        stats.failures.values()
    )


def test_chat_steps_parse_text_from_a_compatible_server_by_default(
    llama_server: LlamaServer,
) -> None:
    # The server refuses response_format of type json_schema, the OpenAI client's default way
    # of asking for structured output, so "auto" asks for text and parses it.
    chat = ChatOpenAI(
        model=MODEL_ALIAS, base_url=llama_server.base_url, api_key=UNUSED_KEY, max_retries=0
    )
    classifier = ClassificationIdentifier(chat, preset="fast")
    assert not classifier.uses_structured_output
    assert isinstance(classifier.invoke("Tell whether the given number is even or odd."), bool)


def test_structured_chat_steps_call_a_function_the_server_accepts(
    llama_server: LlamaServer,
) -> None:
    chat = ChatOpenAI(
        model=MODEL_ALIAS, base_url=llama_server.base_url, api_key=UNUSED_KEY, max_retries=0
    )
    classifier = ClassificationIdentifier(chat, structured=True, preset="fast")
    generator = InstanceGenerator(chat, structured=True, preset="fast", max_instances=2)
    assert classifier.uses_structured_output and generator.uses_structured_output

    answer = classifier.invoke("Tell whether the given number is even or odd.")
    instances = generator.invoke(Task(id="t", instruction="Suggest a name for a pet cat."))
    assert isinstance(answer, bool)
    assert 1 <= len(instances) <= 2
    assert all(instance.output.strip() for instance in instances)
