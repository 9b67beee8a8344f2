"""``selfinstruct generate``'s Ray options: the model work on replicas in a Ray cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from langchain_selfinstruct.ray_replicas import RayReplicas

__all__ = ["ray_options", "ray_replicas"]

F = TypeVar("F", bound=Callable[..., Any])


def ray_options(command: F) -> F:
    """``--ray ADDRESS``, ``--replicas N``, ``--replica-cpus C``, ``--replica-gpus G``."""
    for option in reversed(
        [
            click.option(
                "--ray",
                "ray_address",
                default=None,
                metavar="auto|ADDRESS",
                help="Run the model on Ray replicas: auto (the running cluster), local, or an "
                "address such as ray://head:10001 (the [ray] extra).",
            ),
            click.option(
                "--replicas",
                type=click.IntRange(min=1, max=4096),
                default=None,
                help="Model replicas (Ray actors) with --ray; default 1.",
            ),
            click.option(
                "--replica-cpus",
                type=click.FloatRange(min=0),
                default=1.0,
                show_default=True,
                help="CPUs per replica with --ray (llama.cpp threads for local models).",
            ),
            click.option(
                "--replica-gpus",
                type=click.FloatRange(min=0),
                default=0.0,
                show_default=True,
                help="GPUs per replica with --ray.",
            ),
        ]
    ):
        command = option(command)
    return command


def ray_replicas(options: dict[str, Any]) -> RayReplicas | None:
    """The pipeline's ``ray`` option from the command line, or ``None`` without ``--ray``."""
    if options["ray_address"] is None:
        if options["replicas"] is not None:
            raise click.UsageError("--replicas needs --ray")
        return None
    from langchain_selfinstruct.ray_replicas import RayReplicas

    # Several --base-url: every replica routes over all of them (RayReplicas.base_urls says why).
    return RayReplicas(
        model=options["model"],
        base_urls=tuple(options["base_url"] or ()),
        completion=options["completion"],
        api_key=options["api_key"],
        requests_per_second=options["requests_per_second"],
        address=options["ray_address"],
        replicas=options["replicas"] or 1,
        replica_cpus=options["replica_cpus"],
        replica_gpus=options["replica_gpus"],
    )
