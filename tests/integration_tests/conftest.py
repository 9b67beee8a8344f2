"""Fixtures for the integration tests: real local servers on 127.0.0.1."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.integration_tests.servers.fault_server import FaultPlan, FaultServer
    from tests.integration_tests.servers.llama_server import LlamaServer


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """llama-cpp-python's OpenAI-compatible server with the embedded SmolLM2, for the session."""
    from tests.integration_tests.servers.llama_server import LlamaServer, llama_server_missing

    missing = llama_server_missing()
    if missing is not None:
        pytest.skip(missing)
    from langchain_selfinstruct.embedded import embedded_model_path

    with LlamaServer(embedded_model_path()) as server:
        yield server


@pytest.fixture
def fault_server() -> Iterator[Callable[[FaultPlan], FaultServer]]:
    """Start fault-injecting servers (``fault_server(plan)``); all stop when the test ends."""
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("starlette") is None:
        pytest.skip('needs the server extra: pip install "langchain-selfinstruct[server]"')
    from tests.integration_tests.servers.fault_server import FaultServer

    with ExitStack() as stack:

        def start(plan: FaultPlan) -> FaultServer:
            return stack.enter_context(FaultServer(plan))

        yield start


def assert_every_candidate_is_accounted_for(stats: Mapping[str, Any]) -> None:
    """Check a run's counters leave no candidate instruction unexplained.

    Each generated instruction was rejected by the instruction filter or a task-level check,
    left over once the target was met, accepted, or lost to a failed later step.
    """
    rejected = stats["rejected"].items()
    dropped = sum(count for reason, count in rejected if not reason.startswith("instance:"))
    failures = stats["failures"].items()
    later = sum(count for stage, count in failures if stage != "generate_instructions")
    assert stats["generated_instructions"] == dropped + stats["surplus"] + stats["accepted"] + later
