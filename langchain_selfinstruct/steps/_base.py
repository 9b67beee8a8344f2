"""Plumbing shared by the three generative Self-Instruct steps.

Each step is ``prompt | model | parser`` (or ``prompt | model.with_structured_output(schema) |
converter``), with resampled retries behind a fallback on
:class:`~langchain_core.exceptions.OutputParserException`, wrapped in a :class:`GenerativeStep`
that prepares the prompt variables. The chain's outer run carries the step's name, so traces show
each step once and no extra run is paid for on every model call. This module decides which
prompt variant a model gets, applies sampling settings the model actually has, and loads and
checks prompt templates.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping
from functools import cache, partial
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel, BaseLanguageModel, BaseLLM
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import BaseOutputParser
from langchain_core.outputs import ChatGeneration, Generation
from langchain_core.prompt_values import PromptValue, StringPromptValue
from langchain_core.prompts import BasePromptTemplate, PromptTemplate
from langchain_core.runnables import (
    Runnable,
    RunnableConfig,
    RunnableLambda,
    RunnableSerializable,
    RunnableWithFallbacks,
    ensure_config,
)
from langchain_core.runnables.base import RunnableBindingBase
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SkipValidation,
    model_validator,
)

from langchain_selfinstruct.parsers import _InlineParser
from langchain_selfinstruct.presets import Preset, PromptKind, SamplingParams, get_preset
from langchain_selfinstruct.resources import prompt_path

__all__ = [
    "GenerativeStep",
    "PromptOverride",
    "PromptStyle",
    "coerce_prompt",
    "configure_model",
    "default_prompt",
    "resolve_prompt_kind",
    "supports_structured_output",
]

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")
PromptStyle = Literal["auto", "chat", "completion"]
# Checked by coerce_prompt in each step's validator; pydantic's own validation would try to build
# the abstract, parametrized BasePromptTemplate[Any].
PromptOverride = Annotated[BasePromptTemplate[Any] | None, SkipValidation]

# Providers name the output-length setting differently (Ollama, Gemini, Hugging Face endpoints).
RESAMPLE_SETTINGS: dict[str, float] = {"temperature": 0.7, "top_p": 0.9}
"""Sampling for retries of a greedy step, so a retry is not the same unparseable answer again."""
_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "max_tokens": ("max_tokens", "num_predict", "max_output_tokens", "max_new_tokens"),
}
_FINISH_KEYS = ("finish_reason", "stop_reason", "done_reason")


def _leaves(runnable: Runnable[Any, Any]) -> list[Runnable[Any, Any]]:
    """The runnables that actually answer, looking through bindings and fallbacks."""
    if isinstance(runnable, RunnableBindingBase):
        return _leaves(runnable.bound)
    if isinstance(runnable, RunnableWithFallbacks):
        nested = [runnable.runnable, *runnable.fallbacks]
        return [leaf for item in nested for leaf in _leaves(item)]
    return [runnable]


def resolve_prompt_kind(llm: Runnable[Any, Any], style: PromptStyle = "auto") -> PromptKind:
    """Pick the prompt variant for a model.

    Args:
        llm: The model, possibly bound (``.bind``) or wrapped with fallbacks.
        style: ``"chat"`` or ``"completion"`` to force a variant; ``"auto"`` decides by the
            (primary) model's type: completion for a ``BaseLLM``, chat for everything else.

    Returns:
        ``"chat"`` or ``"completion"``.
    """
    if style != "auto":
        return style
    return "completion" if isinstance(_leaves(llm)[0], BaseLLM) else "chat"


def _is_openai_compatible_server(llm: Runnable[Any, Any]) -> bool:
    """Whether ``llm`` is an OpenAI client pointed at another server (vLLM, llama.cpp, ...)."""
    base_url = getattr(llm, "openai_api_base", None)
    return bool(base_url) and urlsplit(str(base_url)).hostname != "api.openai.com"


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
    if _is_openai_compatible_server(llm):
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
    ones to its client). Bindings and fallbacks are looked through; anything else is returned as
    it is. Keyword arguments the caller bound with ``.bind`` still win at call time.

    Args:
        llm: The model.
        settings: Settings such as ``{"temperature": 0.7, "max_tokens": 1024}``.

    Returns:
        The configured model and the settings applied to the (primary) model, by field name.
    """
    if isinstance(llm, BaseLanguageModel):
        update = _settable(llm, settings)
        return (llm.model_copy(update=update) if update else llm), update
    if isinstance(llm, RunnableBindingBase):
        inner, applied = configure_model(llm.bound, settings)
        return llm.model_copy(update={"bound": inner}), applied
    if isinstance(llm, RunnableWithFallbacks):
        primary, applied = configure_model(llm.runnable, settings)
        fallbacks = [configure_model(item, settings)[0] for item in llm.fallbacks]
        return llm.model_copy(update={"runnable": primary, "fallbacks": fallbacks}), applied
    return llm, {}


@cache
def default_prompt(name: str) -> PromptTemplate:
    """Load a shipped prompt template (``prompts/<name>``) verbatim, as an f-string template."""
    return PromptTemplate.from_template(prompt_path(name).read_text(encoding="utf-8"))


def coerce_prompt(value: object, *, required: Collection[str], allowed: Collection[str]) -> object:
    """Turn a user's prompt override into a checked template (for a pydantic ``before`` validator).

    Args:
        value: ``None``, a prompt template, or a path to an f-string template file. A plain string
            is refused because it is ambiguous; wrap template text in ``PromptTemplate``.
        required: Variables the template must use.
        allowed: Variables the step can fill in.

    Returns:
        ``None`` or a :class:`~langchain_core.prompts.BasePromptTemplate`.

    Raises:
        TypeError: ``value`` is a plain string or another unsupported type.
        ValueError: The template lacks a required variable or needs one the step cannot fill.
    """
    if value is None:
        return None
    if isinstance(value, str):
        raise TypeError(
            "pass a prompt as PromptTemplate.from_template(text) or as a pathlib.Path to a "
            "template file, not as a plain string"
        )
    if isinstance(value, os.PathLike):
        value = PromptTemplate.from_template(Path(value).read_text(encoding="utf-8"))
    if not isinstance(value, BasePromptTemplate):
        raise TypeError(f"expected a prompt template or a path, got {type(value).__name__}")
    provided = set(value.input_variables) | set(value.partial_variables)
    if missing := sorted(set(required) - provided):
        raise ValueError(f"prompt template must use the variable(s) {missing}")
    if unknown := sorted(set(value.input_variables) - set(allowed)):
        raise ValueError(
            f"prompt template uses unknown variable(s) {unknown}; available: {sorted(allowed)}"
        )
    return value


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _cut_at_stop(output: str | BaseMessage, stop: Collection[str]) -> BaseMessage:
    """Cut a response at its first stop sequence, for backends that ignore ``stop``.

    A response cut here ended at a stop sequence, so it no longer counts as truncated. Anything
    else on the message (usage, ids) is kept.
    """
    message = output if isinstance(output, BaseMessage) else AIMessage(content=output)
    text = str(message.text)
    cuts = [index for index in (text.find(s) for s in stop) if index >= 0]
    if not cuts:
        return message
    metadata = {k: v for k, v in message.response_metadata.items() if k not in _FINISH_KEYS}
    metadata["finish_reason"] = "stop"
    return message.model_copy(update={"content": text[: min(cuts)], "response_metadata": metadata})


class _StopCutParser(_InlineParser[OutputT]):
    """``parser`` applied to the response cut at its first stop sequence (see :func:`_cut_at_stop`).

    One parser rather than a cutting step before it: each Runnable in a chain costs a child run
    and, for a sync function, a thread-pool hop, on every model call.
    """

    parser: Annotated[BaseOutputParser[Any], SkipValidation]
    stop: tuple[str, ...]

    @property
    def _type(self) -> str:
        return "self_instruct_stop_cut"

    def parse(self, text: str) -> OutputT:
        """Cut ``text`` at its first stop sequence and parse it."""
        parsed: OutputT = self.parser.parse(str(_cut_at_stop(text, self.stop).text))
        return parsed

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> OutputT:
        """Cut the first generation at its first stop sequence and parse it."""
        first = result[0]
        if isinstance(first, ChatGeneration):
            message = first.message
        else:
            message = _generation_to_message(first)
        cut = ChatGeneration(message=_cut_at_stop(message, self.stop))
        parsed: OutputT = self.parser.parse_result([cut], partial=partial)
        return parsed


def _generation_to_message(generation: Generation) -> AIMessage:
    return AIMessage(
        content=generation.text, response_metadata=dict(generation.generation_info or {})
    )


class _CompletionAsMessage(RunnableSerializable[PromptValue, AIMessage]):
    """Call a completion model and keep its ``generation_info`` (finish reason) for the parser.

    ``BaseLLM.invoke`` returns bare text, which hides whether the output hit the token limit.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llm: BaseLLM
    stop: list[str] | None = None

    def _prompt(self, input: PromptValue | str) -> PromptValue:
        return StringPromptValue(text=input) if isinstance(input, str) else input

    def invoke(
        self, input: PromptValue, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """Generate one completion; the model's own run is traced as usual."""
        config = ensure_config(config)
        result = self.llm.generate_prompt(
            [self._prompt(input)],
            stop=self.stop,
            callbacks=config.get("callbacks"),
            tags=config.get("tags"),
            metadata=config.get("metadata"),
            run_name=config.get("run_name"),
            **kwargs,
        )
        return _generation_to_message(result.generations[0][0])

    async def ainvoke(
        self, input: PromptValue, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """Asynchronous :meth:`invoke`."""
        config = ensure_config(config)
        result = await self.llm.agenerate_prompt(
            [self._prompt(input)],
            stop=self.stop,
            callbacks=config.get("callbacks"),
            tags=config.get("tags"),
            metadata=config.get("metadata"),
            run_name=config.get("run_name"),
            **kwargs,
        )
        return _generation_to_message(result.generations[0][0])


def _from_structured(result: Any, convert: Callable[[Any], OutputT]) -> OutputT:
    """Convert ``with_structured_output(..., include_raw=True)`` output, raising on failure."""
    if isinstance(result, dict) and {"raw", "parsed", "parsing_error"} <= result.keys():
        raw = result["raw"]
        raw_text = str(raw.text) if isinstance(raw, BaseMessage) else str(raw)
        if result["parsing_error"] is not None:
            error = result["parsing_error"]
            raise OutputParserException(f"invalid structured output: {error}", llm_output=raw_text)
        if result["parsed"] is None:
            raise OutputParserException("the model returned no structured output", raw_text)
        result = result["parsed"]
    return convert(result)


class GenerativeStep(RunnableSerializable[InputT, OutputT]):
    """Base of the generative steps: model kind, sampling, prompt choice, retries and tracing.

    Subclasses build their chains in :meth:`_build` (with :meth:`_text_chain` or
    :meth:`_structured_chain`) and map an input to a chain and its prompt variables in
    :meth:`_route`.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    llm: Runnable[Any, Any]
    """Any LangChain language model: a completion model (``BaseLLM``) or a chat model."""
    prompt_style: PromptStyle = "auto"
    """Prompt variant: ``"completion"``, ``"chat"``, or ``"auto"`` (by model type); default auto."""
    structured: bool | Literal["auto"] = "auto"
    """Use ``with_structured_output`` instead of prompt + parser: ``True``, ``False``, or
    ``"auto"`` (only for a bare chat model whose profile or class supports it); default auto.
    Stop sequences and the token cap are not applied in this mode, and keyword arguments bound
    with ``.bind`` do not reach ``with_structured_output``."""
    max_retries: int = Field(default=2, ge=0)
    """Resamples after an unparseable response before the step fails; default 2."""
    preset: Preset | None = None
    """Preset (or its name) that supplies the defaults of ``sampling`` and the step's other
    preset-backed settings; default ``None``, meaning ``faithful`` (the paper's values)."""
    sampling: SamplingParams = SamplingParams()
    """Decoding settings; default this step's part of ``preset``."""

    _preset_fields: ClassVar[dict[str, str]] = {}
    """Step field -> ``Preset`` attribute filled from the preset when the caller omits it."""

    _kind: PromptKind = PrivateAttr()
    _use_structured: bool = PrivateAttr()
    _model: Runnable[Any, Any] = PrivateAttr()
    _resample_model: Runnable[Any, Any] = PrivateAttr()
    _applied: dict[str, Any] = PrivateAttr()

    def __init__(self, llm: Runnable[Any, Any], **kwargs: Any) -> None:
        kwargs["llm"] = llm
        super().__init__(**kwargs)

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        preset = data.get("preset") or "faithful"
        preset = get_preset(preset) if isinstance(preset, str) else preset
        if not isinstance(preset, Preset):
            return data
        filled = {**data, "preset": preset}
        for field, attribute in cls._preset_fields.items():
            filled.setdefault(field, getattr(preset, attribute))
        return filled

    def model_post_init(self, context: Any, /) -> None:
        """Resolve the prompt kind and structured mode, configure the model, build the chains."""
        super().model_post_init(context)
        self._kind = resolve_prompt_kind(self.llm, self.prompt_style)
        self._use_structured = self._resolve_structured()
        settings = self.sampling.model_settings(self._kind)
        if self._use_structured:
            # A token cap sized for a one-word answer would cut the JSON of a tool call.
            settings.pop("max_tokens", None)
        self._model, self._applied = configure_model(self.llm, settings)
        self._resample_model = self._model
        if settings.get("temperature") == 0 and self.max_retries:
            resample = {**settings, **RESAMPLE_SETTINGS}
            self._resample_model, _ = configure_model(self.llm, resample)
        self._build()

    def _resolve_structured(self) -> bool:
        if self.structured == "auto":
            return self._kind == "chat" and supports_structured_output(self.llm)
        if self.structured and not hasattr(self.llm, "with_structured_output"):
            raise ValueError(f"{type(self.llm).__name__} has no with_structured_output")
        return self.structured

    @property
    def prompt_kind(self) -> PromptKind:
        """The prompt variant in use: ``"chat"`` or ``"completion"``."""
        return self._kind

    @property
    def uses_structured_output(self) -> bool:
        """Whether the step calls ``with_structured_output`` rather than parsing text."""
        return self._use_structured

    @property
    def applied_settings(self) -> dict[str, Any]:
        """The sampling settings set on the model (by field name), for provenance records."""
        return dict(self._applied)

    def _template(
        self, override: BasePromptTemplate[Any] | None, base_name: str
    ) -> BasePromptTemplate[Any]:
        kind = "chat" if self._use_structured else self._kind
        return override if override is not None else default_prompt(f"{base_name}.{kind}.txt")

    def _retrying(
        self, attempt: Callable[[Runnable[Any, Any]], Runnable[dict[str, Any], OutputT]]
    ) -> Runnable[dict[str, Any], OutputT]:
        """``attempt(model)``, resampled up to ``max_retries`` times on unparseable output.

        A greedy step (temperature 0, as the paper decodes steps 2 and 3) would only repeat an
        unparseable answer, so its retries sample at :data:`RESAMPLE_SETTINGS` instead.
        """
        first = attempt(self._model)
        if self.max_retries == 0:
            return first.with_config(run_name=self.name)
        # The retries sit behind a fallback rather than around the first attempt: a fallbacks
        # wrapper costs less on every call than with_retry's tenacity loop, and most calls parse.
        retries = attempt(self._resample_model).with_retry(
            retry_if_exception_type=(OutputParserException,),
            stop_after_attempt=self.max_retries,
            wait_exponential_jitter=False,
        )
        # Named as a Runnable, not through the config: RunnableWithFallbacks hands its own
        # config to the runnable it tries, which would then carry the step's name too.
        return RunnableWithFallbacks(
            runnable=first,
            fallbacks=[retries],
            exceptions_to_handle=(OutputParserException,),
            name=self.name,
        )

    def _text_chain(
        self,
        prompt: BasePromptTemplate[Any],
        parser: BaseOutputParser[OutputT],
        extra_stop: Iterable[str] = (),
    ) -> Runnable[dict[str, Any], OutputT]:
        """``prompt | model | parser`` with the step's stop sequences, retried on parse errors."""
        stop = _dedupe([*self.sampling.stop_for(self._kind), *extra_stop])

        def attempt(model: Runnable[Any, Any]) -> Runnable[dict[str, Any], OutputT]:
            if isinstance(model, BaseLLM):
                model = _CompletionAsMessage(llm=model, stop=stop or None)
            elif stop:
                model = model.bind(stop=stop)
            if stop:
                cut: _StopCutParser[OutputT] = _StopCutParser(
                    parser=parser, stop=tuple(stop), name=parser.get_name()
                )
                return prompt | model | cut
            return prompt | model | parser

        return self._retrying(attempt)

    def _structured_chain(
        self,
        prompt: BasePromptTemplate[Any],
        schema: type[BaseModel],
        convert: Callable[[Any], OutputT],
    ) -> Runnable[dict[str, Any], OutputT]:
        """``prompt | model.with_structured_output(schema) | convert``, retried on parse errors.

        OpenAI-compatible servers get ``method="function_calling"``: the OpenAI client's default,
        ``response_format`` of type ``json_schema``, is refused by some (llama.cpp's server).
        """
        options: dict[str, Any] = {"include_raw": True}
        if _is_openai_compatible_server(_leaves(self._model)[0]):
            options["method"] = "function_calling"
        converter = RunnableLambda(partial(_from_structured, convert=convert), name="convert")

        def attempt(model: Runnable[Any, Any]) -> Runnable[dict[str, Any], OutputT]:
            structured: Runnable[Any, Any] = model.with_structured_output(  # type: ignore[attr-defined]
                schema, **options
            )
            return prompt | structured | converter

        return self._retrying(attempt)

    def _build(self) -> None:
        raise NotImplementedError

    def _route(self, input: InputT) -> tuple[Runnable[dict[str, Any], OutputT], dict[str, Any]]:
        raise NotImplementedError

    def invoke(self, input: InputT, config: RunnableConfig | None = None, **kwargs: Any) -> OutputT:
        """Run the step once; raises ``OutputParserException`` when every attempt fails."""
        chain, variables = self._route(input)
        return chain.invoke(variables, config)

    async def ainvoke(
        self, input: InputT, config: RunnableConfig | None = None, **kwargs: Any
    ) -> OutputT:
        """Asynchronous :meth:`invoke`."""
        chain, variables = self._route(input)
        return await chain.ainvoke(variables, config)
