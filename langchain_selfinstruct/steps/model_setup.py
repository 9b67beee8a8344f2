"""Fit a step to its model: prompt variant, structured-output support, sampling fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel, BaseLanguageModel, BaseLLM
from langchain_core.runnables import Runnable

from langchain_selfinstruct.presets import PromptKind
from langchain_selfinstruct.unwrap import is_openai_compatible_server, primary, rebuild

__all__ = [
    "RESAMPLE_SETTINGS",
    "PromptStyle",
    "configure_model",
    "resolve_prompt_kind",
    "supports_structured_output",
    "with_cache",
]

PromptStyle = Literal["auto", "chat", "completion"]
RESAMPLE_SETTINGS: dict[str, float] = {"temperature": 0.7, "top_p": 0.9}
"""Sampling for retries of a greedy step, so a retry is not the same unparseable answer again."""
# Providers name the output-length setting differently (Ollama, Gemini, Hugging Face endpoints).
_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "max_tokens": ("max_tokens", "num_predict", "max_output_tokens", "max_new_tokens"),
}


def resolve_prompt_kind(llm: Runnable[Any, Any], style: PromptStyle = "auto") -> PromptKind:
    """Pick the prompt variant for a model.

    Args:
        llm: The model, possibly wrapped (see :mod:`langchain_selfinstruct.unwrap`).
        style: ``"chat"`` or ``"completion"`` to force a variant; ``"auto"`` decides by the
            (primary) model's type: completion for a ``BaseLLM``, chat for everything else.

    Returns:
        ``"chat"`` or ``"completion"``.
    """
    if style != "auto":
        return style
    return "completion" if isinstance(primary(llm), BaseLLM) else "chat"


def supports_structured_output(llm: Runnable[Any, Any]) -> bool:
    """Tell whether a bare chat model can be used through ``with_structured_output``.

    The model profile decides when it says anything about structured output or tool calling.
    An OpenAI client pointed at another server without such a profile gets ``False``: those
    servers differ in what they accept (llama.cpp's server refuses ``response_format`` of type
    ``json_schema``), while prompt plus parser works on all of them. Otherwise the model class
    must implement ``with_structured_output`` or ``bind_tools``.
    """
    if not isinstance(llm, BaseChatModel):
        return False
    profile: Mapping[str, Any] = llm.profile or {}
    if "structured_output" in profile or "tool_calling" in profile:
        return bool(profile.get("structured_output") or profile.get("tool_calling"))
    if is_openai_compatible_server(llm):
        return False
    cls = type(llm)
    return (
        cls.with_structured_output is not BaseChatModel.with_structured_output
        or cls.bind_tools is not BaseChatModel.bind_tools
    )


def _settable(model: BaseLanguageModel[Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    fields = type(model).model_fields
    update: dict[str, Any] = {}
    for key, value in settings.items():
        name = next((n for n in _FIELD_NAMES.get(key, (key,)) if n in fields), None)
        if name is not None:
            update[name] = value
    return update


def configure_model(
    llm: Runnable[Any, Any], settings: Mapping[str, Any]
) -> tuple[Runnable[Any, Any], dict[str, Any]]:
    """Apply sampling settings to the model fields that exist, leaving the caller's model untouched.

    A setting is applied only where the model class declares a field of that name (``max_tokens``
    also maps to ``num_predict``, ``max_output_tokens`` or ``max_new_tokens``). The settings go on a
    copy of the model rather than through ``.bind``: every integration reads its own fields, while
    not all of them accept them as call-time keyword arguments (``ChatOllama`` forwards unknown
    ones to its client). Every wrapper is looked through (:func:`~langchain_selfinstruct.unwrap.
    rebuild`); anything else is returned as it is. Keyword arguments the caller bound with
    ``.bind`` still win at call time.

    Args:
        llm: The model.
        settings: Settings such as ``{"temperature": 0.7, "max_tokens": 1024}``.

    Returns:
        The configured model and the settings applied to the (primary) model, by field name.
    """
    applied: list[dict[str, Any]] = []

    def configure(leaf: Runnable[Any, Any]) -> Runnable[Any, Any]:
        if not isinstance(leaf, BaseLanguageModel):
            return leaf
        update = _settable(leaf, settings)
        applied.append(update)
        return leaf.model_copy(update=update) if update else leaf

    configured = rebuild(llm, configure)
    return configured, applied[0] if applied and isinstance(primary(llm), BaseLanguageModel) else {}


def with_cache(llm: Runnable[Any, Any], cache: Any) -> Runnable[Any, Any]:
    """``llm`` with every model's ``cache`` setting replaced (a ``BaseCache`` or a bool).

    The steps pass ``False``: under a global LLM cache a sampling step would hand back the same
    "new" instructions every call, and a retry the same unparseable answer. A model is copied
    only when its setting differs, so steps sharing an uncached model share one copy (a
    scripted model's answers are not split between copies).
    """

    def recache(leaf: Runnable[Any, Any]) -> Runnable[Any, Any]:
        if isinstance(leaf, BaseLanguageModel) and leaf.cache is not cache:
            return leaf.model_copy(update={"cache": cache})
        return leaf

    return rebuild(llm, recache)
