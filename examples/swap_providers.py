"""Run the same pipeline on OpenAI, Anthropic, Ollama and an OpenAI-compatible server.

Only the model changes. A provider whose API key, integration package or server is missing is
skipped with the reason :class:`ModelConfigError` gives; the local model runs in any case.

Run: ``python examples/swap_providers.py`` with any of ``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``
(and ``pip install langchain-anthropic``), a running Ollama (``pip install langchain-ollama``), or
``SELFINSTRUCT_BASE_URL=http://localhost:8000/v1 SELFINSTRUCT_MODEL=<served name>`` for vLLM or
llama.cpp's server.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseLanguageModel

from langchain_selfinstruct import (
    ModelConfigError,
    SelfInstructPipeline,
    Task,
    get_preset,
    load_embedded_model,
    resolve_model,
)
from langchain_selfinstruct.models import check_model_ready

ModelFactory = Callable[[], BaseLanguageModel[Any]]


def ollama() -> BaseLanguageModel[Any]:
    """Ollama's own integration, once its server answers (it also serves the OpenAI API)."""
    llm = resolve_model("ollama:llama3.1")
    host = os.environ.get("OLLAMA_HOST", "http://localhost:11434")
    check_model_ready("llama3.1", base_url=f"{host}/v1", probe=True)
    return llm


def openai_compatible() -> BaseLanguageModel[Any]:
    """A vLLM or llama.cpp server, named by ``SELFINSTRUCT_BASE_URL`` and ``SELFINSTRUCT_MODEL``."""
    base_url = os.environ.get("SELFINSTRUCT_BASE_URL")
    if not base_url:
        raise ModelConfigError("SELFINSTRUCT_BASE_URL is not set: point it at a /v1 server")
    name = os.environ.get("SELFINSTRUCT_MODEL", "default")
    return resolve_model(name, base_url=base_url, probe=True)


PROVIDERS: dict[str, ModelFactory] = {
    "openai": lambda: resolve_model("openai:gpt-4o-mini"),
    "anthropic": lambda: resolve_model("anthropic:claude-3-5-haiku-latest"),
    "ollama": ollama,
    "openai-compatible": openai_compatible,
}


@dataclass(frozen=True)
class ProviderRun:
    """One provider's outcome: its new tasks, or why it was skipped."""

    provider: str
    tasks: list[Task] = field(default_factory=list)
    skipped: str | None = None


def run_on(provider: str, make_model: ModelFactory, num_instructions: int) -> ProviderRun:
    """Build the model and run the pipeline on it, or skip with the reason it cannot be used."""
    try:
        llm = make_model()
    except ModelConfigError as error:
        print(f"{provider}: skipped ({error})")
        return ProviderRun(provider, skipped=str(error))
    pipeline = SelfInstructPipeline(llm, preset=get_preset("fast"), max_concurrency=2, seed=0)
    tasks = pipeline.invoke({"num_instructions": num_instructions})
    print(f"{provider}: {len(tasks)} new tasks, e.g. {tasks[0].instruction if tasks else '-'}")
    return ProviderRun(provider, tasks=tasks)


def main(llm: BaseLanguageModel[Any] | None = None, num_instructions: int = 2) -> list[ProviderRun]:
    """Run the pipeline on every provider in turn, then on ``llm`` (default: the embedded one)."""
    providers = dict(PROVIDERS)
    providers["local"] = (lambda: llm) if llm is not None else load_embedded_model
    return [run_on(name, make, num_instructions) for name, make in providers.items()]


if __name__ == "__main__":
    main()
