"""``selfinstruct eval``: answer, grade, compare and report on the user-oriented evaluation.

Kept apart from :mod:`langchain_selfinstruct.cli` (which registers the group) so that module stays
a few hundred lines; like it, this is a thin skin over the library
(:mod:`langchain_selfinstruct.evaluation`), imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from langchain_selfinstruct._cli_options import concurrency_option

__all__ = ["eval_group"]

F = TypeVar("F", bound=Callable[..., Any])
_ERRORS = (ValueError, OSError, ImportError)


def _fail(error: Exception) -> click.ClickException:
    from langchain_selfinstruct.cli import _one_line

    return click.ClickException(_one_line(error))


def _server_options(f: F) -> F:
    f = click.option(
        "--api-key",
        default=None,
        envvar="SELFINSTRUCT_API_KEY",
        show_envvar=True,
        help="Key for the provider or --base-url server; never written to any output.",
    )(f)
    f = click.option("--completion", is_flag=True, help="Use the completions API of --base-url.")(f)
    return click.option(
        "--base-url",
        default=None,
        metavar="URL",
        help="An OpenAI-compatible server (llama.cpp's, vLLM); model names are its models.",
    )(f)


def _judge_options(f: F) -> F:
    f = click.option(
        "--seed", type=int, default=0, show_default=True, help="Order seed (recorded)."
    )(f)
    return click.option(
        "--judge",
        "judges",
        multiple=True,
        required=True,
        metavar="PROVIDER:MODEL",
        help="The judge model (fake, embedded, openai:gpt-4o-mini, ...); repeatable.",
    )(f)


def _models(names: tuple[str, ...], options: dict[str, Any]) -> dict[str, Any]:
    from langchain_selfinstruct.models import resolve_model

    if len(set(names)) != len(names):
        raise click.UsageError("give each --judge once")
    return {
        name: resolve_model(
            name,
            base_url=options["base_url"],
            completion=options["completion"],
            api_key=options["api_key"],
        )
        for name in names
    }


def _echo(counts: Any, verb: str) -> None:
    note = f", {counts.failed} failed (rerun to retry)" if counts.failed else ""
    click.echo(
        f"{verb} {counts.done} now{note}; {counts.skipped} done before, {counts.total} in all"
    )
    click.echo(f"wrote {counts.path}")


@click.group("eval")
def eval_group() -> None:
    r"""The paper's user-oriented evaluation: answer, grade (A-D), compare, report.

    \b
    Example (offline):
        selfinstruct eval answer --model fake --out runs/eval
        selfinstruct eval answer --model embedded --out runs/eval
        selfinstruct eval grade runs/eval --judge fake
        selfinstruct eval report runs/eval
    """


@eval_group.command()
@click.option(
    "--tasks",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Tasks in the paper's user_oriented_instructions.jsonl format. Default: the "
    "directory's copy, or the project's own set for a new directory.",
)
@click.option("--model", "-m", required=True, metavar="PROVIDER:MODEL", help="The model to ask.")
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Eval dir."
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Answer only the first N items."
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Cap on each reply's tokens. Default: 384 (512 for chat models).",
)
@concurrency_option("Model calls at once.")
@_server_options
def answer(
    tasks: Path | None,
    model: str,
    out: Path,
    limit: int | None,
    max_tokens: int | None,
    concurrency: int,
    **options: Any,
) -> None:
    """Collect MODEL's replies to every task into OUT/answers.jsonl (resumable)."""
    from langchain_selfinstruct.evaluation import answer_run

    try:
        llm = _models((model,), options)[model]
        counts = answer_run(
            out,
            llm,
            model,
            tasks=tasks,
            concurrency=concurrency,
            limit=limit,
            max_tokens=max_tokens,
        )
    except _ERRORS as e:
        raise _fail(e) from e
    _echo(counts, "answered")


@eval_group.command()
@click.argument("eval_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@_judge_options
@concurrency_option("Judge calls at once.")
@_server_options
def grade(
    eval_dir: Path, judges: tuple[str, ...], seed: int, concurrency: int, **options: Any
) -> None:
    """Grade every reply A-D with each judge, blind (no model names), in a seeded order.

    Give two --judge for Cohen's kappa between them in the report.
    """
    from langchain_selfinstruct.evaluation import grade_run

    try:
        models = _models(judges, options)
        counts = grade_run(eval_dir, models, seed=seed, concurrency=concurrency)
    except _ERRORS as e:
        raise _fail(e) from e
    _echo(counts, "graded")


@eval_group.command()
@click.argument("eval_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@_judge_options
@click.option(
    "--baseline", required=True, help="The --model name every other model is compared with."
)
@concurrency_option("Judge calls at once (two per pair).")
@_server_options
def compare(
    eval_dir: Path,
    judges: tuple[str, ...],
    seed: int,
    baseline: str,
    concurrency: int,
    **options: Any,
) -> None:
    """Judge every model against BASELINE pairwise, in both orders (a split is a tie)."""
    from langchain_selfinstruct.evaluation import compare_run

    try:
        models = _models(judges, options)
        counts = compare_run(eval_dir, models, baseline, seed=seed, concurrency=concurrency)
    except _ERRORS as e:
        raise _fail(e) from e
    _echo(counts, "judged")


@eval_group.command()
@click.argument("eval_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
def report(eval_dir: Path) -> None:
    """Write EVAL_DIR/eval_report.html, eval_grades.png (stacked A-D bars) and eval_report.json."""
    from langchain_selfinstruct.evaluation import write_eval_report

    try:
        result = write_eval_report(eval_dir)
    except _ERRORS as e:
        raise _fail(e) from e
    for judge, models in result.numbers["grades"].items():
        for model, g in models.items():
            shares = " ".join(f"{k} {v * 100:.0f}%" for k, v in g["shares"].items())
            click.echo(f"{judge} / {model}: {shares} (n={g['n']})")
    if result.png is not None:
        click.echo(f"wrote {result.png}")
    click.echo(f"wrote {result.html}")
