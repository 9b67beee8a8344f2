"""Turn a run directory into finetuning data: Alpaca, OpenAI chat, prompt/completion, ShareGPT, HF.

Each example is one (instruction, instance) pair, so a task with three instances gives three
examples, as in the paper's finetuning set (Wang et al., 2022, §4). Texts are stripped, examples
with an empty output are skipped, duplicate (prompt, completion) pairs are kept once, and the rows
are shuffled with a seeded generator, so the same call always writes the same files.

A file export follows its path's extension, whatever the format: ``.json`` gives one JSON array,
``.jsonl`` one JSON object per line; any other extension is refused before anything is read.
With a validation split, the training rows go to ``out`` and the validation rows to ``out`` with
``.val`` before its suffix (``data.jsonl`` → ``data.val.jsonl``); the ``hf`` format instead saves
one ``DatasetDict`` with ``train`` and ``validation`` splits in the ``out`` directory.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_selfinstruct._io import atomic_write_text
from langchain_selfinstruct._templates import render_prompt_completion
from langchain_selfinstruct.resources import load_seed_tasks
from langchain_selfinstruct.run_store import RunDirectory
from langchain_selfinstruct.schema import Task, TaskFileError, load_tasks

__all__ = [
    "FORMATS",
    "ExportResult",
    "export_run",
    "load_run_tasks",
    "resolve_seed_tasks",
    "run_tasks_path",
    "validation_path",
]

FORMATS = ("alpaca", "openai", "prompt-completion", "sharegpt", "hf")
"""Export formats accepted by :func:`export_run`."""

_CHAT_FORMATS = ("openai", "sharegpt")
_ALPACA_COLUMNS = ("instruction", "input", "output")
_HF_MARKERS = ("dataset_dict.json", "dataset_info.json", "state.json")

Row = dict[str, Any]


@dataclass(frozen=True)
class _Example:
    instruction: str
    input: str
    output: str


@dataclass
class ExportResult:
    """What :func:`export_run` wrote."""

    paths: list[Path]
    """Files (for ``hf``, the dataset directory) written: training data first, then validation."""
    counts: dict[str, int] = field(default_factory=dict)
    """``tasks``, ``seed_tasks``, ``examples`` (instance pairs read), ``skipped_empty_output``,
    ``duplicates`` (removed), ``written``, ``train`` and ``val``."""


def export_run(
    run_dir: str | os.PathLike[str],
    fmt: str,
    out: str | os.PathLike[str],
    *,
    include_seeds: bool = False,
    seed_tasks: Sequence[Task] | str | os.PathLike[str] | None = None,
    seed: int = 0,
    val_split: float = 0.0,
    system_prompt: str | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export a run's tasks as finetuning data.

    Formats (one row per example; a ``.json`` path gets a JSON array of rows, a ``.jsonl`` path
    one row per line):

    - ``alpaca``: ``{"instruction", "input", "output"}``;
    - ``openai``: ``{"messages": [system?, user, assistant]}`` (chat finetuning); the user
      message is the instruction, then a blank line and the input when there is one;
    - ``prompt-completion``: ``{"prompt", "completion"}``, each rendered with a template
      drawn at random and, half the time, the input's leading ``Field:`` label removed (paper §4);
    - ``sharegpt``: ``{"conversations": [{"from": "system"?|"human"|"gpt", "value"}]}``;
    - ``hf``: a ``datasets`` dataset with the Alpaca columns saved with ``save_to_disk`` (needs the
      ``hf`` extra); ``out`` is a directory.

    Args:
        run_dir: A run directory (its ``tasks.jsonl`` is read) or a task file.
        fmt: One of :data:`FORMATS`.
        out: Output file ending in ``.json`` or ``.jsonl``, or a directory for ``hf``.
        include_seeds: Add the seed tasks' instances, like the paper's ``--include_seed_tasks``.
        seed_tasks: Seed tasks or a seed file to add; the package's own seeds when ``None``.
        seed: Seed of the shuffle and of the template choice.
        val_split: Fraction of rows held out for validation, in ``[0, 1)``; at least one row is
            held out (and one kept) when it is above 0 and there are two rows or more.
        system_prompt: System message for the ``openai`` and ``sharegpt`` formats.
        overwrite: Replace existing outputs (the CLI's ``--force``).

    Returns:
        The paths written and the counts.

    Raises:
        ValueError: Unknown format, bad ``val_split``, an option the format does not use, or a
            file path ending in neither ``.json`` nor ``.jsonl``.
        FileExistsError: An output exists and ``overwrite`` is false; nothing is written.
        FileNotFoundError: ``run_dir`` or its ``tasks.jsonl`` does not exist.
        langchain_selfinstruct.schema.TaskFileError: A task file is corrupt (names file and line).
    """
    _check_options(fmt, val_split, system_prompt, include_seeds, seed_tasks)
    out_path = Path(out)
    as_array = fmt != "hf" and _is_json_array(fmt, out_path)
    targets = [out_path] if fmt == "hf" or val_split == 0 else [out_path, validation_path(out_path)]
    _refuse_existing(targets, fmt, overwrite)

    machine = load_run_tasks(run_dir, allow_empty=True)
    if not machine:
        raise TaskFileError(
            run_tasks_path(run_dir),
            None,
            "no accepted task yet, so nothing to export; `selfinstruct report` shows why the "
            "candidates were rejected",
        )
    seeds = resolve_seed_tasks(seed_tasks) if include_seeds else []
    counts = {"tasks": len(machine), "seed_tasks": len(seeds)}
    examples = _examples([*seeds, *machine], counts)
    rng = random.Random(seed)
    rng.shuffle(examples)
    rows = _unique([_render(fmt, example, rng, system_prompt) for example in examples])
    counts["duplicates"] = counts["examples"] - counts["skipped_empty_output"] - len(rows)
    train, val = _split(rows, val_split)
    counts.update(written=len(rows), train=len(train), val=len(val))

    if fmt == "hf":
        _save_hf(out_path, train, val if val_split > 0 else None)
    else:
        for path, part in zip(targets, (train, val), strict=False):
            atomic_write_text(path, _serialize(part, as_array=as_array))
    return ExportResult(paths=targets, counts=counts)


def validation_path(out: Path) -> Path:
    """Return where the validation rows of a file export go: ``.val`` before the suffix.

    Args:
        out: The training output file.

    Returns:
        ``data.jsonl`` → ``data.val.jsonl``; ``data`` → ``data.val``.
    """
    return out.with_name(f"{out.stem}.val{out.suffix}")


def load_run_tasks(run_dir: str | os.PathLike[str], *, allow_empty: bool = False) -> list[Task]:
    """Load the accepted tasks of a run directory (or of a task file given directly).

    Args:
        run_dir: The run directory, or a ``.jsonl`` task file.
        allow_empty: Return ``[]`` when no task was accepted yet instead of raising.

    Returns:
        The tasks, in file order.

    Raises:
        FileNotFoundError: The path or the directory's ``tasks.jsonl`` does not exist.
        langchain_selfinstruct.schema.TaskFileError: The task file is corrupt, or empty and
            ``allow_empty`` is false.
    """
    return load_tasks(run_tasks_path(run_dir), allow_empty=allow_empty)


def run_tasks_path(run_dir: str | os.PathLike[str]) -> Path:
    """Return the task file of a run directory, or the task file given directly.

    Args:
        run_dir: The run directory, or a ``.jsonl`` task file.

    Returns:
        The directory's ``tasks.jsonl``, or ``run_dir`` itself when it is a file.

    Raises:
        FileNotFoundError: The path or the directory's ``tasks.jsonl`` does not exist.
    """
    path = Path(run_dir)
    if not path.exists():
        raise FileNotFoundError(f"{path}: run directory not found")
    if path.is_dir():
        tasks_file = RunDirectory(path).tasks_path
        if not tasks_file.is_file():
            raise FileNotFoundError(
                f"{tasks_file}: not found; {path} does not look like a Self-Instruct run directory"
            )
        path = tasks_file
    return path


def resolve_seed_tasks(seed_tasks: Sequence[Task] | str | os.PathLike[str] | None) -> list[Task]:
    """Return seed tasks given as tasks, as a task file, or ``None`` for the package's own seeds.

    Args:
        seed_tasks: The tasks, a ``.jsonl`` path, or ``None``.

    Returns:
        The seed tasks.
    """
    if seed_tasks is None:
        return load_seed_tasks()
    if isinstance(seed_tasks, (str, os.PathLike)):
        return load_tasks(seed_tasks)
    return list(seed_tasks)


def _check_options(
    fmt: str,
    val_split: float,
    system_prompt: str | None,
    include_seeds: bool,
    seed_tasks: object,
) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if not 0.0 <= val_split < 1.0:
        raise ValueError(f"val_split must be in [0, 1), got {val_split}")
    if system_prompt is not None and fmt not in _CHAT_FORMATS:
        raise ValueError(
            f"a system prompt only applies to {' and '.join(_CHAT_FORMATS)}, not {fmt}"
        )
    if seed_tasks is not None and not include_seeds:
        raise ValueError("seed_tasks is only used with include_seeds=True (--include-seeds)")


def _refuse_existing(targets: list[Path], fmt: str, overwrite: bool) -> None:
    for target in targets:
        if fmt != "hf" and target.is_dir():
            raise FileExistsError(f"{target}: is a directory; give a file path for {fmt}")
        if not target.exists():
            continue
        if not overwrite:
            raise FileExistsError(f"{target}: already exists; pass --force (overwrite=True)")
        if fmt == "hf" and target.is_dir() and not _is_replaceable_dataset_dir(target):
            raise FileExistsError(
                f"{target}: exists and is not a saved dataset; refusing to replace it"
            )


def _is_replaceable_dataset_dir(path: Path) -> bool:
    # --force must never delete an unrelated folder given by mistake: only an empty directory or
    # one that save_to_disk wrote is replaced.
    return not any(path.iterdir()) or any((path / marker).is_file() for marker in _HF_MARKERS)


def _examples(tasks: list[Task], counts: dict[str, int]) -> list[_Example]:
    examples: list[_Example] = []
    seen: set[_Example] = set()
    total = empty = 0
    for task in tasks:
        instruction = task.instruction.strip()
        for instance in task.instances:
            total += 1
            example = _Example(instruction, instance.input.strip(), instance.output.strip())
            if not example.output:
                empty += 1
            elif example not in seen:
                # Deduplicate before rendering: otherwise random templates would make copies of
                # the same pair look different in the prompt-completion format.
                seen.add(example)
                examples.append(example)
    counts.update(examples=total, skipped_empty_output=empty)
    return examples


def _render(fmt: str, example: _Example, rng: random.Random, system_prompt: str | None) -> Row:
    if fmt == "prompt-completion":
        prompt, completion = render_prompt_completion(
            example.instruction, example.input, example.output, rng
        )
        return {"prompt": prompt, "completion": completion}
    if fmt in _CHAT_FORMATS:
        return _RENDER_CHAT[fmt](_user_message(example), example.output, system_prompt)
    return {"instruction": example.instruction, "input": example.input, "output": example.output}


def _user_message(example: _Example) -> str:
    return f"{example.instruction}\n\n{example.input}" if example.input else example.instruction


def _openai_row(user: str, assistant: str, system_prompt: str | None) -> Row:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return {"messages": messages}


def _sharegpt_row(user: str, assistant: str, system_prompt: str | None) -> Row:
    turns = [{"from": "system", "value": system_prompt}] if system_prompt else []
    turns += [{"from": "human", "value": user}, {"from": "gpt", "value": assistant}]
    return {"conversations": turns}


_RENDER_CHAT: dict[str, Callable[[str, str, str | None], Row]] = {
    "openai": _openai_row,
    "sharegpt": _sharegpt_row,
}


def _unique(rows: list[Row]) -> list[Row]:
    seen: set[str] = set()
    unique: list[Row] = []
    for row in rows:
        key = json.dumps(row, sort_keys=True, ensure_ascii=False)
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


def _split(rows: list[Row], val_split: float) -> tuple[list[Row], list[Row]]:
    if val_split == 0 or len(rows) < 2:
        return rows, []
    n_val = min(max(round(len(rows) * val_split), 1), len(rows) - 1)
    return rows[: len(rows) - n_val], rows[len(rows) - n_val :]


def _is_json_array(fmt: str, out: Path) -> bool:
    # One rule for every format: a .jsonl file that holds an array (or a .json file that holds
    # lines) is read wrongly by every tool that trusts the name.
    suffix = out.suffix.lower()
    if suffix not in (".json", ".jsonl"):
        raise ValueError(
            f"{out}: the {fmt} export follows the file's extension: give a path ending in .json "
            "(one JSON array) or .jsonl (one JSON object per line)"
        )
    return suffix == ".json"


def _serialize(rows: list[Row], *, as_array: bool) -> str:
    if as_array:
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _save_hf(out: Path, train: list[Row], val: list[Row] | None) -> None:
    try:
        import datasets
    except ImportError as e:
        raise ImportError(
            "the hf format needs the 'datasets' package: pip install 'langchain-selfinstruct[hf]'"
        ) from e
    features = datasets.Features({name: datasets.Value("string") for name in _ALPACA_COLUMNS})

    def build(rows: list[Row]) -> datasets.Dataset:
        return datasets.Dataset.from_list(rows, features=features)

    dataset: datasets.Dataset | datasets.DatasetDict = (
        build(train)
        if val is None
        else datasets.DatasetDict({"train": build(train), "validation": build(val)})
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        dataset.save_to_disk(str(staging))
        # mkdtemp makes the directory private (0o700); the dataset is an ordinary output.
        staging.chmod(_directory_mode())
        _swap_into_place(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _directory_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def _swap_into_place(staging: Path, out: Path) -> None:
    # The old dataset stays intact until the new one is complete, then moves aside in one rename.
    if not out.exists():
        staging.rename(out)
        return
    aside = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.rename(aside)
    staging.rename(out)
    if aside.is_dir():
        shutil.rmtree(aside)
    else:
        aside.unlink()
