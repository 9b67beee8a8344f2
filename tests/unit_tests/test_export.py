"""Tests for the finetuning export (every format, dedup, shuffle, split, overwrite, HF round trip).

``build_run_dir`` writes a realistic run directory without the loop; ``test_report`` reuses it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from langchain_selfinstruct._templates import (
    TEMPLATES_NO_INPUT,
    TEMPLATES_WITH_INPUT,
    strip_field_prefix,
)
from langchain_selfinstruct.export import FORMATS, export_run, validation_path
from langchain_selfinstruct.schema import Instance, Task, TaskFileError, dump_task_line

# Our own small task set: verbs, objects and inputs varied enough for the figures and the dedup.
_TOPICS = ["the sea", "a city at night", "autumn leaves", "a lost key", "a quiet library"]
_ITEMS = ["movie review", "product review", "tweet", "news headline", "restaurant comment"]
_DOCS = ["paragraph", "meeting note", "news article", "email"]


def _make_tasks() -> list[Task]:
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    specs: list[tuple[str, list[Instance], bool]] = []
    for i, topic in enumerate(_TOPICS):
        outputs = [f"Waves of words about {topic}, verse {k}." for k in range(1 + i % 3)]
        specs.append(
            (f"Write a short poem about {topic}.", [Instance(output=o) for o in outputs], False)
        )
    for i, item in enumerate(_ITEMS):
        instances = [
            Instance(input=f"Sentence: This {item} number {k} was great.", output="positive")
            for k in range(2)
        ] + [Instance(input=f"The {item} {i} was dull and slow.", output="negative")]
        specs.append((f"Classify the sentiment of the following {item}.", instances, True))
    for doc in _DOCS:
        specs.append(
            (
                f"Summarize the given {doc} in one sentence.",
                [
                    Instance(
                        input=f"Text: A long {doc} about budgets.", output=f"The {doc} is brief."
                    )
                ],
                False,
            )
        )
    for n in range(3, 9):
        specs.append(
            (
                f"Generate {n} names for a new bakery.",
                [Instance(output=", ".join(f"Bakery {j}" for j in range(n)))],
                False,
            )
        )
    for word in ["cat", "house", "river", "mountain", "bread"]:
        specs.append(
            (
                f"Translate the word '{word}' into French.",
                [Instance(input="", output=f"le mot {word}")],
                False,
            )
        )
    for instruction, output in [
        ("Explain the difference between weather and climate.", "Weather is short term."),
        ("Explain the rules of chess to a child.", "Each piece moves its own way."),
        ("Explain the meaning of the proverb below.", "Act early."),
        ("Describe a typical day of a nurse.", "Shifts start early."),
        ("Describe the taste of a lemon.", "Sour and bright."),
        ("List five benefits of regular walking.", "1. Heart 2. Mood 3. Sleep 4. Joints 5. Focus"),
        ("List the planets of the solar system.", "Mercury, Venus, Earth, Mars, ..."),
        ("Suggest a title for a story about a brave mouse.", "The Mouse Who Roared"),
        ("Rewrite the sentence below in the passive voice.", "The cake was eaten by Sam."),
        ("What is the capital city of Peru?", "Lima"),
    ]:
        needs_input = "below" in instruction
        instance = Instance(
            input="Question: Sam ate the cake." if needs_input else "", output=output
        )
        specs.append((instruction, [instance], False))
    specs.append(
        (
            "Find the largest number in the list.",
            [Instance(input="Numbers: 3, 9, 4", output="9"), Instance(input="1, 2", output="2")],
            False,
        )
    )
    return [
        Task(
            id=f"machine_task_{i}",
            instruction=instruction,
            instances=instances,
            is_classification=None if instruction.startswith("What") else is_cls,
            source="machine",
            model="fake:model",
            model_params={"temperature": 0.7},
            prompt_task_ids=["seed_task_0", "seed_task_1"],
            most_similar={"Write a poem.": 0.4},
            avg_similarity_score=0.1,
            created_at=start + timedelta(seconds=i),
        )
        for i, (instruction, instances, is_cls) in enumerate(specs)
    ]


def _make_rejects(tasks: list[Task]) -> list[dict[str, Any]]:
    rejects: list[dict[str, Any]] = [
        {
            "stage": "filter_instructions",
            "reason": "near_duplicate",
            "instruction": f"{task.instruction} Again.",
            "detail": {"max_score": 0.8},
        }
        for task in tasks[:4]
    ]
    rejects += [
        {"stage": "filter_instructions", "reason": "too_short", "instruction": "Do it."},
        {"stage": "filter_instructions", "reason": "blacklisted:image", "instruction": "Draw it."},
        {"stage": "filter_instances", "reason": "instance:empty_output", "instruction": "X y z."},
        {"stage": "generate_instances", "reason": "step_failed", "error": "parse error"},
    ]
    return rejects


def _make_stats(tasks: list[Task], rejects: list[dict[str, Any]]) -> dict[str, Any]:
    rejected: dict[str, int] = {}
    for record in rejects:
        if record["reason"] != "step_failed":
            rejected[record["reason"]] = rejected.get(record["reason"], 0) + 1
    return {
        "accepted": len(tasks),
        "rounds": 5,
        "generated_instructions": len(tasks) + 6,
        "instances_kept": sum(len(t.instances) for t in tasks),
        "rejected": rejected,
        "failures": {"generate_instances": 1, "generate_instructions": 2},
        "surplus": 3,
        "prompt_tokens": 12345,
        "completion_tokens": 6789,
        "total_tokens": 19134,
        "model_calls": 77,
        "model_errors": 2,
        "cost_usd": 0.0123,
        "elapsed_s": 42.5,
        "stop_reason": "target",
        "resumed_tasks": 0,
        "total_tasks": len(tasks),
    }


@dataclass
class RunFixture:
    """A run directory on disk and the data it was written from."""

    path: Path
    tasks: list[Task]
    rejects: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] | None = None


def build_run_dir(
    path: Path,
    tasks: list[Task] | None = None,
    *,
    with_stats: bool = True,
) -> RunFixture:
    """Write tasks.jsonl, rejects.jsonl, settings.json and stats.json as the loop would."""
    tasks = _make_tasks() if tasks is None else tasks
    rejects = _make_rejects(tasks)
    stats = _make_stats(tasks, rejects) if with_stats else None
    path.mkdir(parents=True, exist_ok=True)
    (path / "tasks.jsonl").write_text("".join(dump_task_line(t) + "\n" for t in tasks))
    (path / "rejects.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rejects))
    settings = {"model": "fake:model", "preset": "faithful", "seed": 7, "num_instructions": 40}
    (path / "settings.json").write_text(json.dumps({**settings, "seed_tasks_count": 175}))
    if stats is not None:
        (path / "stats.json").write_text(json.dumps(stats))
    return RunFixture(path, tasks, rejects, stats)


def _pairs(tasks: list[Task]) -> list[tuple[str, str, str]]:
    return [
        (t.instruction.strip(), i.input.strip(), i.output.strip())
        for t in tasks
        for i in t.instances
    ]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def run(tmp_path: Path) -> RunFixture:
    return build_run_dir(tmp_path / "run")


def test_fixture_is_realistic(run: RunFixture) -> None:
    assert 20 <= len(run.tasks) <= 40
    assert len(set(_pairs(run.tasks))) == len(_pairs(run.tasks))


def test_alpaca_rows_are_every_instruction_instance_pair(run: RunFixture, tmp_path: Path) -> None:
    out = tmp_path / "alpaca.json"
    result = export_run(run.path, "alpaca", out)
    rows = json.loads(out.read_text())
    assert isinstance(rows, list)
    assert all(set(row) == {"instruction", "input", "output"} for row in rows)
    assert sorted((r["instruction"], r["input"], r["output"]) for r in rows) == sorted(
        _pairs(run.tasks)
    )
    assert result.paths == [out]
    assert result.counts["written"] == result.counts["train"] == len(rows)
    assert result.counts["tasks"] == len(run.tasks)
    assert result.counts["val"] == result.counts["duplicates"] == 0


@pytest.mark.parametrize("system_prompt", [None, "You are a careful assistant."])
def test_openai_messages(run: RunFixture, tmp_path: Path, system_prompt: str | None) -> None:
    out = tmp_path / "chat.jsonl"
    export_run(run.path, "openai", out, system_prompt=system_prompt)
    rows = _jsonl(out)
    expected = {
        (f"{ins}\n\n{inp}" if inp else ins, output) for ins, inp, output in _pairs(run.tasks)
    }
    got = set()
    for row in rows:
        messages = row["messages"]
        roles = [m["role"] for m in messages]
        if system_prompt is None:
            assert roles == ["user", "assistant"]
        else:
            assert roles == ["system", "user", "assistant"]
            assert messages[0]["content"] == system_prompt
        got.add((messages[-2]["content"], messages[-1]["content"]))
    assert got == expected
    assert len(rows) == len(expected)


def test_sharegpt_conversations(run: RunFixture, tmp_path: Path) -> None:
    out = tmp_path / "share.jsonl"
    export_run(run.path, "sharegpt", out, system_prompt="Be brief.")
    rows = _jsonl(out)
    assert len(rows) == len(_pairs(run.tasks))
    for row in rows:
        turns = row["conversations"]
        assert [t["from"] for t in turns] == ["system", "human", "gpt"]
        assert turns[0]["value"] == "Be brief."
    with_input = next(
        r for r in rows if "Sentence: This tweet number 1" in r["conversations"][1]["value"]
    )
    human = with_input["conversations"][1]["value"]
    instruction = "Classify the sentiment of the following tweet."
    assert human == f"{instruction}\n\nSentence: This tweet number 1 was great."
    assert with_input["conversations"][2]["value"] == "positive"


def _template_regex(prompt_template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{instruction\}|\{input\})", prompt_template)
    pattern = "".join(
        "(?P<instruction>.+?)"
        if p == "{instruction}"
        else "(?P<input>.+?)"
        if p == "{input}"
        else re.escape(p)
        for p in parts
    )
    return re.compile(pattern + r"\Z", re.DOTALL)


def test_prompt_completion_uses_several_templates(run: RunFixture, tmp_path: Path) -> None:
    out = tmp_path / "pc.jsonl"
    export_run(run.path, "prompt-completion", out, seed=3)
    rows = _jsonl(out)
    pairs = _pairs(run.tasks)
    assert len(rows) == len(pairs)
    by_output: dict[str, set[tuple[str, str]]] = {}
    for instruction, inp, output in pairs:
        by_output.setdefault(output, set()).add((instruction, inp))
    used: set[str] = set()
    for row in rows:
        output = row["completion"].strip()
        candidates = by_output[output]
        assert row["completion"] in (output, f" {output}")
        templates = [*TEMPLATES_WITH_INPUT, *TEMPLATES_NO_INPUT]
        matched = [
            (prompt, m)
            for prompt, completion in templates
            if (m := _template_regex(prompt).match(row["prompt"]))
            and completion.format(output=output) == row["completion"]
        ]
        assert matched, row
        ok = False
        for prompt, m in matched:
            groups = m.groupdict()
            for instruction, inp in candidates:
                same_input = groups.get("input", "") in (inp, strip_field_prefix(inp))
                if groups["instruction"] == instruction and same_input:
                    ok = True
                    used.add(prompt)
        assert ok, row
    assert len(used) >= 5


def test_duplicate_pairs_are_removed(tmp_path: Path) -> None:
    task_a = Task(
        id="a",
        instruction="Name a color.",
        instances=[Instance(output="blue"), Instance(output=" blue "), Instance(output="red")],
    )
    task_b = Task(id="b", instruction=" Name a color. ", instances=[Instance(output="blue")])
    task_c = Task(id="c", instruction="Name a fruit.", instances=[Instance(output="  ")])
    run = build_run_dir(tmp_path / "run", [task_a, task_b, task_c])
    for fmt in ("alpaca", "prompt-completion", "openai"):
        out = tmp_path / f"{fmt}.json"
        result = export_run(run.path, fmt, out)
        assert result.counts["examples"] == 5
        assert result.counts["skipped_empty_output"] == 1
        assert result.counts["duplicates"] == 2
        assert result.counts["written"] == 2
    rows = json.loads((tmp_path / "alpaca.json").read_text())
    assert sorted(r["output"] for r in rows) == ["blue", "red"]


def test_prompt_completion_drops_pairs_identical_after_rendering(tmp_path: Path) -> None:
    # Whether the label is stripped is random, so two inputs that differ only by it may collide.
    instances = [Instance(input="Word: sun", output="noun"), Instance(input="sun", output="noun")]
    tasks = [Task(id="t", instruction="Give the part of speech.", instances=instances)]
    run = build_run_dir(tmp_path / "run", tasks)
    written = set()
    for seed in range(40):
        result = export_run(run.path, "prompt-completion", tmp_path / f"{seed}.jsonl", seed=seed)
        rows = _jsonl(tmp_path / f"{seed}.jsonl")
        assert len({json.dumps(r, sort_keys=True) for r in rows}) == len(rows)
        assert result.counts["duplicates"] == 2 - len(rows)
        written.add(len(rows))
    assert written == {1, 2}


def test_shuffle_is_reproducible_and_seed_dependent(run: RunFixture, tmp_path: Path) -> None:
    def export(seed: int, name: str) -> str:
        export_run(run.path, "prompt-completion", tmp_path / name, seed=seed)
        return (tmp_path / name).read_text()

    first, again, other = export(1, "a.jsonl"), export(1, "b.jsonl"), export(2, "c.jsonl")
    assert first == again
    assert first != other
    orders = []
    for s in (1, 2):
        export_run(run.path, "alpaca", tmp_path / f"s{s}.json", seed=s)
        rows = json.loads((tmp_path / f"s{s}.json").read_text())
        orders.append([(r["instruction"], r["input"], r["output"]) for r in rows])
    assert orders[0] != orders[1]
    assert sorted(orders[0]) == sorted(orders[1])


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5])
def test_validation_split_sizes(run: RunFixture, tmp_path: Path, fraction: float) -> None:
    out = tmp_path / "data.jsonl"
    result = export_run(run.path, "openai", out, val_split=fraction)
    val_path = tmp_path / "data.val.jsonl"
    assert result.paths == [out, val_path]
    total = len(_pairs(run.tasks))
    train, val = _jsonl(out), _jsonl(val_path)
    assert len(val) == round(total * fraction) == result.counts["val"]
    assert len(train) == total - len(val) == result.counts["train"]
    keys = {json.dumps(r, sort_keys=True) for r in train + val}
    assert len(keys) == total


def test_validation_path_inserts_before_suffix() -> None:
    assert validation_path(Path("out/data.jsonl")) == Path("out/data.val.jsonl")
    assert validation_path(Path("data")) == Path("data.val")


def test_tiny_split_keeps_one_row_each_side(tmp_path: Path) -> None:
    tasks = [
        Task(
            id="t",
            instruction="Say hi.",
            instances=[Instance(output="hi"), Instance(output="hello")],
        )
    ]
    run = build_run_dir(tmp_path / "run", tasks)
    result = export_run(run.path, "alpaca", tmp_path / "a.json", val_split=0.01)
    assert (result.counts["train"], result.counts["val"]) == (1, 1)


def test_refuses_to_overwrite_and_leaves_file_unchanged(run: RunFixture, tmp_path: Path) -> None:
    out = tmp_path / "data.jsonl"
    out.write_text("precious\n")
    with pytest.raises(FileExistsError, match=r"data\.jsonl.*--force"):
        export_run(run.path, "openai", out)
    assert out.read_text() == "precious\n"
    export_run(run.path, "openai", out, overwrite=True)
    assert len(_jsonl(out)) == len(_pairs(run.tasks))


def test_existing_validation_file_blocks_whole_export(run: RunFixture, tmp_path: Path) -> None:
    out = tmp_path / "data.json"
    (tmp_path / "data.val.json").write_text("keep")
    with pytest.raises(FileExistsError, match=r"data\.val\.json"):
        export_run(run.path, "alpaca", out, val_split=0.2)
    assert not out.exists()
    assert (tmp_path / "data.val.json").read_text() == "keep"


def test_field_prefix_stripped_half_the_time(tmp_path: Path) -> None:
    n = 2000
    tasks = [
        Task(
            id=f"t{i}",
            instruction=f"Rewrite sentence {i} formally.",
            instances=[Instance(input=f"Sentence: Report: item {i} is ready", output=f"Item {i}.")],
        )
        for i in range(n)
    ]
    run = build_run_dir(tmp_path / "run", tasks)
    export_run(run.path, "prompt-completion", tmp_path / "pc.jsonl", seed=11)
    rows = _jsonl(tmp_path / "pc.jsonl")
    kept = sum("Sentence: Report: item" in r["prompt"] for r in rows)
    stripped = sum(
        "Sentence:" not in r["prompt"]
        and re.search(r"Report: item \d+ is ready", r["prompt"]) is not None
        for r in rows
    )
    assert kept + stripped == n
    assert abs(stripped / n - 0.5) < 0.05


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sentence: The cat sat.", "The cat sat."),
        ("Product review:  Great value", "Great value"),
        ("Question: Answer: 4", "Answer: 4"),
        ("Input:\nline one", "line one"),
        ("http://example.com/a", "http://example.com/a"),
        ("10:30 in the morning", "10:30 in the morning"),
        ("Note:", "Note:"),
        ("No label here", "No label here"),
        ("This is a long sentence: with a colon", "This is a long sentence: with a colon"),
    ],
)
def test_strip_field_prefix(text: str, expected: str) -> None:
    assert strip_field_prefix(text) == expected


def test_hf_round_trip(run: RunFixture, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    export_run(run.path, "alpaca", tmp_path / "a.json", seed=5)
    result = export_run(run.path, "hf", tmp_path / "ds", seed=5)
    loaded = datasets.load_from_disk(str(tmp_path / "ds"))
    assert loaded.to_list() == json.loads((tmp_path / "a.json").read_text())
    assert result.paths == [tmp_path / "ds"]


def test_hf_split_and_overwrite(run: RunFixture, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "ds"
    export_run(run.path, "hf", out)
    with pytest.raises(FileExistsError, match="--force"):
        export_run(run.path, "hf", out, val_split=0.2)
    export_run(run.path, "hf", out, val_split=0.2, overwrite=True)
    loaded = datasets.load_from_disk(str(out))
    total = len(_pairs(run.tasks))
    assert set(loaded) == {"train", "validation"}
    assert len(loaded["validation"]) == round(total * 0.2)
    assert len(loaded["train"]) + len(loaded["validation"]) == total
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds")]


def test_hf_never_replaces_an_unrelated_directory(run: RunFixture, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a saved dataset"):
        export_run(run.path, "hf", folder, overwrite=True)
    assert (folder / "notes.txt").read_text() == "mine"


def test_include_seeds(run: RunFixture, tmp_path: Path) -> None:
    seeds = [
        Task(
            id="seed_task_0",
            instruction="Add two numbers.",
            instances=[Instance(input="2, 3", output="5")],
        )
    ]
    result = export_run(
        run.path, "alpaca", tmp_path / "a.json", include_seeds=True, seed_tasks=seeds
    )
    rows = json.loads((tmp_path / "a.json").read_text())
    assert {"instruction": "Add two numbers.", "input": "2, 3", "output": "5"} in rows
    assert result.counts["seed_tasks"] == 1
    assert len(rows) == len(_pairs(run.tasks)) + 1


def test_include_shipped_seeds(run: RunFixture, tmp_path: Path) -> None:
    result = export_run(run.path, "alpaca", tmp_path / "a.json", include_seeds=True)
    assert result.counts["seed_tasks"] == 175
    assert result.counts["written"] > len(_pairs(run.tasks)) + 150


def test_unknown_format_lists_formats(run: RunFixture, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="alpaca, openai, prompt-completion, sharegpt, hf"):
        export_run(run.path, "csv", tmp_path / "x")
    assert FORMATS == ("alpaca", "openai", "prompt-completion", "sharegpt", "hf")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"val_split": 1.0}, "val_split"),
        ({"val_split": -0.1}, "val_split"),
        ({"system_prompt": "hi"}, "system prompt"),
        ({"seed_tasks": []}, "include_seeds"),
    ],
)
def test_bad_options(run: RunFixture, tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        export_run(run.path, "alpaca", tmp_path / "x.json", **kwargs)
    assert not (tmp_path / "x.json").exists()


def test_missing_and_corrupt_run_dirs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        export_run(tmp_path / "nowhere", "alpaca", tmp_path / "x.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"tasks\.jsonl"):
        export_run(tmp_path / "empty", "alpaca", tmp_path / "x.json")
    run = build_run_dir(tmp_path / "run")
    with (run.path / "tasks.jsonl").open("a") as handle:
        handle.write("{not json\n")
    with pytest.raises(TaskFileError, match=rf"tasks\.jsonl:{len(run.tasks) + 1}"):
        export_run(run.path, "alpaca", tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_task_file_path_is_accepted(run: RunFixture, tmp_path: Path) -> None:
    result = export_run(run.path / "tasks.jsonl", "alpaca", tmp_path / "a.json")
    assert result.counts["written"] == len(_pairs(run.tasks))


_FILE_FORMATS = ("alpaca", "openai", "prompt-completion", "sharegpt")


@pytest.mark.parametrize("fmt", _FILE_FORMATS)
def test_every_file_format_follows_the_extension(run: RunFixture, tmp_path: Path, fmt: str) -> None:
    export_run(run.path, fmt, tmp_path / "rows.jsonl", seed=4, val_split=0.2)
    export_run(run.path, fmt, tmp_path / "rows.json", seed=4, val_split=0.2)
    for name in ("rows", "rows.val"):
        lines = _jsonl(tmp_path / f"{name}.jsonl")
        array = json.loads((tmp_path / f"{name}.json").read_text())
        assert isinstance(array, list)
        assert array == lines
        assert len(lines) == len((tmp_path / f"{name}.jsonl").read_text().splitlines())
    assert len(_jsonl(tmp_path / "rows.jsonl")) + len(_jsonl(tmp_path / "rows.val.jsonl")) == len(
        _pairs(run.tasks)
    )


@pytest.mark.parametrize("name", ["rows", "rows.txt", "rows.JSONL.bak"])
def test_a_file_export_without_a_json_or_jsonl_extension_is_refused(
    run: RunFixture, tmp_path: Path, name: str
) -> None:
    with pytest.raises(ValueError, match=r"extension") as error:
        export_run(run.path, "openai", tmp_path / name)
    assert str(error.value) == (
        f"{tmp_path / name}: the openai export follows the file's extension: "
        "give a path ending in .json (one JSON array) or .jsonl (one JSON object per line)"
    )
    assert list(tmp_path.iterdir()) == [run.path]


def test_the_extension_is_matched_without_case(run: RunFixture, tmp_path: Path) -> None:
    export_run(run.path, "sharegpt", tmp_path / "rows.JSON")
    assert isinstance(json.loads((tmp_path / "rows.JSON").read_text()), list)


def test_hf_export_directory_follows_the_umask(run: RunFixture, tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    old = os.umask(0o022)
    try:
        export_run(run.path, "hf", tmp_path / "ds", val_split=0.2)
    finally:
        os.umask(old)
    assert (tmp_path / "ds").stat().st_mode & 0o777 == 0o755
    for path in (tmp_path / "ds").rglob("*"):
        expected = 0o755 if path.is_dir() else 0o644
        assert path.stat().st_mode & 0o777 == expected, path


def test_a_run_with_no_accepted_task_says_there_is_nothing_to_export(tmp_path: Path) -> None:
    run = build_run_dir(tmp_path / "run", [])
    with pytest.raises(ValueError, match="nothing to export") as error:
        export_run(run.path, "alpaca", tmp_path / "a.json")
    assert str(error.value) == (
        f"{run.path / 'tasks.jsonl'}: no accepted task yet, so nothing to export; "
        "`selfinstruct report` shows why the candidates were rejected"
    )
    assert not (tmp_path / "a.json").exists()
