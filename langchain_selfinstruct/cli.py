"""The ``selfinstruct`` command: a thin skin over the library.

Every option maps onto one library argument; library errors become one-line messages and a
non-zero exit code.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from langchain_selfinstruct import __version__
from langchain_selfinstruct._cli_eval import eval_group
from langchain_selfinstruct._cli_options import concurrency_option, tokenizer_option
from langchain_selfinstruct._cli_quality import (
    curation_options,
    decontaminate,
    pipeline_quality_options,
    review,
)
from langchain_selfinstruct._cli_ray import ray_options, ray_replicas
from langchain_selfinstruct.presets import PRESETS

if TYPE_CHECKING:
    from langchain_selfinstruct.pipeline import SelfInstructPipeline

__all__ = ["main"]


class _FiniteFloat(click.FloatRange):
    """A :class:`click.FloatRange` that also refuses ``nan`` and ``inf``.

    Click lets ``nan`` through every range check, and ``--requests-per-second nan`` would wait
    forever.
    """

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def _one_line(error: Exception) -> str:
    """A one-line message for a library error; pydantic's are reduced to field and reason."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError) and error.errors():
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        return f"{field}: {message}" if field else message
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="selfinstruct")
def main() -> None:
    """Self-Instruct (Wang et al., 2022): bootstrap instruction-tuning data from a model.

    \b
    Example (offline, on the embedded SmolLM2-135M model):
        selfinstruct generate --num-instructions 40 --out runs/demo
    """


@main.command()
@click.option(
    "--num-instructions",
    "-n",
    type=click.IntRange(min=1, max=10_000_000),
    required=True,
    help="Target number of new tasks in --out; a rerun resumes towards it.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Output directory: tasks.jsonl, rejects.jsonl, settings.json, stats.json.",
)
@click.option(
    "--model",
    "-m",
    default=None,
    metavar="PROVIDER:MODEL",
    help="e.g. openai:gpt-4o-mini, anthropic:claude-haiku-4-5, ollama:llama3.1, "
    "embedded:chat. Default: the embedded SmolLM2-135M-Instruct (offline; [local] extra).",
)
@click.option(
    "--base-url",
    multiple=True,
    metavar="URL",
    help="An OpenAI-compatible server (vLLM, llama.cpp's server); --model names its model. "
    "Repeat for several servers of it: each call goes to the least busy, a failing one is benched.",
)
@click.option(
    "--completion",
    is_flag=True,
    help="Use the completions API (suits the paper's continuation prompts).",
)
@click.option(
    "--api-key",
    default=None,
    envvar="SELFINSTRUCT_API_KEY",
    show_envvar=True,
    help="Key for the provider or --base-url server; never written to any output.",
)
@click.option(
    "--seed-tasks",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Seed tasks JSONL in the paper's format. Default: the bundled 175 tasks.",
)
@concurrency_option("Tasks worked on at once (model calls in flight).")
@tokenizer_option()
@click.option(
    "--requests-per-second",
    type=_FiniteFloat(min=0.01),
    default=None,
    help="Rate limit for model calls (at least 0.01).",
)
@click.option(
    "--max-cost",
    type=_FiniteFloat(min=0, min_open=True),
    default=None,
    metavar="USD",
    help="Stop cleanly once the estimated cost reaches this.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Stop cleanly once this many tokens were used.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@click.option(
    "--preset",
    type=click.Choice(sorted(PRESETS)),
    default="faithful",
    show_default=True,
    help="Sampling parameters and paper constants.",
)
@curation_options
@ray_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def generate(**options: Any) -> None:
    """Generate new tasks into --out, resuming whatever is already there.

    \b
    Exit codes:
        0    the target or a budget (--max-cost, --max-tokens) was reached
        1    an error before or during the run (bad input, a directory that holds another run)
        2    a bad option
        3    stalled: rounds in a row accepted nothing, short of the target
        4    stopped on model errors or any other reason short of the target
        130  interrupted (Ctrl-C); run the same command again to resume

    \b
    Examples:
        selfinstruct generate -n 40 --out runs/demo
        selfinstruct generate -n 5000 --out runs/gpt -m openai:gpt-4o-mini --max-cost 5
        selfinstruct generate -n 500 --out runs/vllm --completion \\
            --base-url http://127.0.0.1:8000/v1 -m Qwen2.5-7B-Instruct
    """
    from langchain_selfinstruct._cli_output import Progress, summary_table
    from langchain_selfinstruct.run_store import RunDirectoryError
    from langchain_selfinstruct.runner import EXIT_CODES, interrupted_message

    try:
        pipeline = _build_pipeline(options)
    except (ValueError, OSError) as e:
        raise click.ClickException(_one_line(e)) from e
    except KeyboardInterrupt:
        click.echo("interrupted before the run started; nothing was written", err=True)
        sys.exit(EXIT_CODES["interrupted"])
    try:
        with Progress(options["num_instructions"], enabled=not options["quiet"]) as progress:
            summary = pipeline.run(
                options["out_dir"], options["num_instructions"], on_event=progress.update
            )
    except (ValueError, RunDirectoryError, OSError) as e:
        raise click.ClickException(_one_line(e)) from e
    except KeyboardInterrupt:
        # Only a third Ctrl-C gets here: the run stopped waiting for its own cleanup.
        click.echo(interrupted_message(options["out_dir"]), err=True)
        sys.exit(EXIT_CODES["interrupted"])
    record = {
        "out_dir": str(summary.out_dir),
        "total_tasks": summary.total_tasks,
        "resumed_tasks": summary.resumed_tasks,
        **summary.stats.to_dict(),
        "stop_detail": summary.stop_detail,
        "exit_code": summary.exit_code,
    }
    click.echo(json.dumps(record, indent=2) if options["as_json"] else summary_table(record))
    if summary.torn_bytes:
        click.echo(f"note: a torn last line ({summary.torn_bytes} bytes) was set aside", err=True)
    if summary.exit_code:
        sys.exit(summary.exit_code)


def _build_pipeline(options: dict[str, Any]) -> SelfInstructPipeline:
    from langchain_core.rate_limiters import InMemoryRateLimiter

    from langchain_selfinstruct.endpoints import resolve_endpoints
    from langchain_selfinstruct.pipeline import SelfInstructPipeline
    from langchain_selfinstruct.presets import get_preset
    from langchain_selfinstruct.resources import load_seed_tasks
    from langchain_selfinstruct.schema import load_tasks

    seed_path = options["seed_tasks"]
    seeds = load_seed_tasks() if seed_path is None else load_tasks(seed_path)
    rps = options["requests_per_second"]
    limiter = InMemoryRateLimiter(requests_per_second=rps) if rps else None
    replicas = ray_replicas(options)
    llm = (
        replicas.driver_model()
        if replicas
        else resolve_endpoints(
            options["model"],
            base_urls=options["base_url"],
            completion=options["completion"],
            api_key=options["api_key"],
            rate_limiter=limiter,
        )
    )
    return SelfInstructPipeline(
        llm,
        seed_tasks=seeds,
        preset=get_preset(options["preset"]),
        max_concurrency=options["concurrency"],
        tokenizer=options["tokenizer"],
        seed=options["seed"],
        max_cost=options["max_cost"],
        max_tokens=options["max_tokens"],
        ray=replicas,
        **pipeline_quality_options(options, llm),
    )


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["alpaca", "openai", "prompt-completion", "sharegpt", "hf"]),
    required=True,
    help="Target format (hf: a datasets.Dataset directory; needs the [hf] extra).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Output file: .json for a JSON array, .jsonl for one row per line (hf: a directory).",
)
@click.option(
    "--include-seeds", is_flag=True, help="Add the seed tasks (paper: --include_seed_tasks)."
)
@click.option(
    "--seed-tasks",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Seed file for --include-seeds. Default: the bundled seeds.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Shuffle/template seed.")
@click.option(
    "--val-split",
    type=click.FloatRange(min=0, max=1, max_open=True),
    default=0.0,
    show_default=True,
    help="Share of rows written to a validation file (PATH with .val before the suffix).",
)
@click.option("--system-prompt", default=None, help="System message (openai, sharegpt).")
@click.option("--force", is_flag=True, help="Overwrite existing output.")
def export(
    run_dir: Path,
    fmt: str,
    out: Path,
    include_seeds: bool,
    seed_tasks: Path | None,
    seed: int,
    val_split: float,
    system_prompt: str | None,
    force: bool,
) -> None:
    """Export a run's tasks as finetuning data.

    \b
    Examples:
        selfinstruct export runs/demo --format alpaca --out data/alpaca.json
        selfinstruct export runs/demo --format openai --out data/chat.jsonl --val-split 0.1
    """
    from langchain_selfinstruct.export import export_run

    try:
        result = export_run(
            run_dir,
            fmt,
            out,
            include_seeds=include_seeds,
            seed_tasks=seed_tasks if include_seeds else None,
            seed=seed,
            val_split=val_split,
            system_prompt=system_prompt,
            overwrite=force,
        )
    except (ValueError, OSError, ImportError) as e:
        raise click.ClickException(_one_line(e)) from e
    written = ", ".join(str(path) for path in result.paths)
    click.echo(f"wrote {result.counts.get('written', 0)} rows to {written}")


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Report dir."
)
@click.option(
    "--seed-tasks",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Seed file for the ROUGE-L figure. Default: the bundled seeds.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing report.")
def report(run_dir: Path, out: Path, seed_tasks: Path | None, force: bool) -> None:
    """Write report.html (self-contained) and PNG figures for a run.

    \b
    Example:
        selfinstruct report runs/demo --out runs/demo/report
    """
    from langchain_selfinstruct.report import build_report

    try:
        result = build_report(run_dir, out, seed_tasks=seed_tasks, overwrite=force)
    except (ValueError, OSError, ImportError) as e:
        raise click.ClickException(_one_line(e)) from e
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {result.html_path}")


@main.command()
@click.option(
    "--timeout",
    type=_FiniteFloat(min=1),
    default=120.0,
    show_default=True,
    help="Seconds the embedded model's test run may take.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def doctor(timeout: float, as_json: bool) -> None:
    """Check the installation: versions, CPU and llama.cpp build, the embedded model, providers.

    The embedded model is tried in a child process, so a llama.cpp build that crashes is
    reported with its fix instead of taking this command down. Keys are shown as set or not
    set, never their values. Exits 1 when a check fails.

    \b
    Examples:
        selfinstruct doctor
        selfinstruct doctor --json
    """
    from langchain_selfinstruct.doctor import format_report, run_doctor

    report = run_doctor(timeout_s=timeout)
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else format_report(report))
    if not report.healthy:
        sys.exit(1)


main.add_command(review)
main.add_command(decontaminate)
main.add_command(eval_group)
