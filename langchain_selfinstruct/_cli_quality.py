"""The data-quality commands of ``selfinstruct``: ``review``, ``decontaminate``, curation options.

``--curate`` and ``--exclude`` are options of ``generate``.

Kept apart from :mod:`langchain_selfinstruct.cli` (which registers them) so that module stays a
few hundred lines; like it, this is a thin skin over the library, imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from langchain_selfinstruct._cli_options import concurrency_option

__all__ = [
    "DECONTAMINATE_FLAGGED_EXIT",
    "curation_options",
    "decontaminate",
    "pipeline_quality_options",
    "review",
]

F = TypeVar("F", bound=Callable[..., Any])

DECONTAMINATE_FLAGGED_EXIT = 3
"""``selfinstruct decontaminate``'s exit code when it flagged at least one task."""


def _fail(error: Exception) -> click.ClickException:
    from langchain_selfinstruct.cli import _one_line

    return click.ClickException(_one_line(error))


def _exclude_option(f: F) -> F:
    return click.option(
        "--exclude",
        "exclude",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        multiple=True,
        help="Evaluation texts to keep out (repeatable): JSONL in the paper's format (.jsonl) "
        "or one text per line.",
    )(f)


def _threshold_options(f: F) -> F:
    f = click.option(
        "--exclude-threshold",
        type=click.FloatRange(min=0, max=1),
        default=0.7,
        show_default=True,
        help="ROUGE-L above which a text counts as contaminated.",
    )(f)
    return click.option(
        "--exclude-ngram",
        type=click.IntRange(min=0),
        default=13,
        show_default=True,
        help="Shared token run that counts as contaminated (0: off).",
    )(f)


def curation_options(f: F) -> F:
    """``--curate``, ``--curate-judge`` and the ``--exclude`` options, for ``generate``."""
    f = _threshold_options(_exclude_option(f))
    f = click.option(
        "--curate-judge",
        default=None,
        metavar="PROVIDER:MODEL",
        help="Judge for --curate. Default: the --model itself.",
    )(f)
    return click.option(
        "--curate",
        is_flag=True,
        help="Drop instances a judge calls invalid (the paper's review as a filter; one judge "
        "call per instance).",
    )(f)


def _decontaminator(options: dict[str, Any]) -> Any:
    from langchain_selfinstruct.quality import Decontaminator

    return Decontaminator(
        options["exclude"],
        threshold=options["exclude_threshold"],
        ngram=options["exclude_ngram"],
    )


def pipeline_quality_options(options: dict[str, Any], llm: Any) -> dict[str, Any]:
    """The pipeline arguments ``--curate`` and ``--exclude`` ask for."""
    from langchain_selfinstruct.judges import CurationRule, TaskReviewer
    from langchain_selfinstruct.models import resolve_model
    from langchain_selfinstruct.presets import get_preset
    from langchain_selfinstruct.steps import InstructionFilter

    extra: dict[str, Any] = {}
    if options.get("exclude"):
        preset = get_preset(options["preset"])
        extra["instruction_filter"] = InstructionFilter(
            threshold=preset.rouge_threshold,
            min_words=preset.min_words,
            max_words=preset.max_words,
            custom_rules=[_decontaminator(options)],
        )
    if options.get("curate"):
        name = options.get("curate_judge")
        judge = llm if name is None else resolve_model(name, api_key=options.get("api_key"))
        extra["judged_rule"] = CurationRule(TaskReviewer(judge))
    elif options.get("curate_judge"):
        raise click.UsageError("--curate-judge needs --curate")
    return extra


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--judge",
    "judges",
    multiple=True,
    required=True,
    metavar="PROVIDER:MODEL",
    help="The judge model (fake, embedded, openai:gpt-4o-mini, ...). Give it twice for "
    "Cohen's kappa between two judges in the report.",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Tasks to review, one instance each (the paper reviewed 200).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sample seed (recorded).")
@concurrency_option("Judge calls at once.")
@click.option(
    "--api-key",
    default=None,
    envvar="SELFINSTRUCT_API_KEY",
    show_envvar=True,
    help="Key for the judges' provider; never written to any output.",
)
def review(
    run_dir: Path,
    judges: tuple[str, ...],
    sample: int,
    seed: int,
    concurrency: int,
    api_key: str | None,
) -> None:
    """Review a sample of a run with the paper's three questions (Table 2).

    Verdicts go to RUN_DIR/review.jsonl; a rerun resumes it and never reviews an item twice.
    `selfinstruct report` then shows the shares with 95% intervals next to the paper's.

    \b
    Examples:
        selfinstruct review runs/demo --judge fake
        selfinstruct review runs/gpt --judge openai:gpt-4o-mini --judge anthropic:claude-haiku-4-5
    """
    from langchain_selfinstruct.models import resolve_model
    from langchain_selfinstruct.quality.review_run import review_run

    if len(set(judges)) != len(judges):
        raise click.UsageError("give each --judge once")
    try:
        models = {name: resolve_model(name, api_key=api_key) for name in judges}
        summary = review_run(run_dir, models, sample=sample, seed=seed, concurrency=concurrency)
    except (ValueError, OSError, ImportError) as e:
        raise _fail(e) from e
    for name in judges:
        failed = summary.failed[name]
        note = f", {failed} failed (rerun to retry)" if failed else ""
        click.echo(f"{name}: reviewed {summary.reviewed[name]} now{note}")
    click.echo(f"{summary.skipped} already reviewed; {summary.sampled} in the sample")
    click.echo(f"wrote {summary.path}")


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True))
@_exclude_option
@_threshold_options
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write the flagged tasks. Default: RUN_DIR/contaminated.jsonl.",
)
def decontaminate(run_dir: Path, out: Path | None, **options: Any) -> None:
    """Flag a run's tasks that are too close to evaluation texts.

    A task is flagged when its instruction's ROUGE-L with an excluded text is above
    --exclude-threshold, or when they share --exclude-ngram tokens in a row. Exits 0 when
    nothing is flagged and 3 when something is (1 on an error), so a script can gate on it.

    \b
    Example:
        selfinstruct decontaminate runs/demo --exclude eval/user_oriented_instructions.jsonl
    """
    from langchain_selfinstruct.quality import decontaminate_run

    if not options["exclude"]:
        raise click.UsageError("give at least one --exclude FILE")
    try:
        result = decontaminate_run(run_dir, _decontaminator(options), out)
    except (ValueError, OSError) as e:
        raise _fail(e) from e
    for reason, n in sorted(result.by_reason.items()):
        click.echo(f"{reason}: {n}")
    click.echo(f"flagged {len(result.flagged)} of {result.checked} tasks; wrote {result.path}")
    if result.flagged:
        raise SystemExit(DECONTAMINATE_FLAGGED_EXIT)
