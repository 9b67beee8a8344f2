"""The base of the three generative Self-Instruct steps.

Each step is ``prompt | model | parser`` (or ``prompt | model.with_structured_output(schema) |
converter``), resampled a bounded number of times on
:class:`~langchain_core.exceptions.OutputParserException`, inside a :class:`GenerativeStep` that
prepares the prompt variables. The step's own run carries its name (or the caller's
``run_name``); each attempt is a child run with the prompt, model and parser runs under it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Generic, Literal, TypeVar

from langchain_core.caches import BaseCache
from langchain_core.callbacks import (
    AsyncCallbackManagerForChainRun,
    CallbackManagerForChainRun,
    adispatch_custom_event,
    dispatch_custom_event,
)
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseLLM
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import BaseOutputParser
from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda, RunnableSerializable
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from langchain_selfinstruct.errors import ModelConfigError
from langchain_selfinstruct.parsers import StopCutParser
from langchain_selfinstruct.presets import Preset, PromptKind, SamplingParams, get_preset
from langchain_selfinstruct.stats import FALLBACK_EVENT
from langchain_selfinstruct.steps.completion_call import completions_as_messages
from langchain_selfinstruct.steps.model_setup import (
    RESAMPLE_SETTINGS,
    PromptStyle,
    configure_model,
    resolve_prompt_kind,
    supports_structured_output,
    with_cache,
)
from langchain_selfinstruct.steps.prompt_loading import default_prompt
from langchain_selfinstruct.unwrap import is_openai_compatible_server, leaves

__all__ = ["Attempts", "GenerativeStep"]

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")


@dataclass(frozen=True)
class Attempts(Generic[OutputT]):
    """A step's chain: the first attempt, then up to ``retries`` resamples on a parse error.

    Not ``first.with_fallbacks([resample.with_retry(...)])``: langchain-core's
    ``RunnableWithFallbacks`` (1.8) hands its own config, not its child config, to the runnable
    it tries, so the attempts became sibling runs of the step and inherited its ``run_name``.
    Called inside the step's run, every attempt is a child of it.
    """

    step: str
    first: Runnable[dict[str, Any], OutputT]
    resample: Runnable[dict[str, Any], OutputT]
    retries: int

    _event: ClassVar[dict[str, str]] = {"kind": "resample"}

    def _chains(self) -> list[Runnable[dict[str, Any], OutputT]]:
        return [self.first, *[self.resample] * self.retries]

    def invoke(self, variables: dict[str, Any], config: RunnableConfig) -> OutputT:
        """Run the attempts in turn; raise the last ``OutputParserException`` when all fail."""
        error: OutputParserException | None = None
        for chain in self._chains():
            if error is not None:
                dispatch_custom_event(FALLBACK_EVENT, self._event, config=config)
            try:
                return chain.invoke(variables, config)
            except OutputParserException as e:
                error = e
        assert error is not None  # at least one attempt ran
        raise error

    async def ainvoke(self, variables: dict[str, Any], config: RunnableConfig) -> OutputT:
        """Asynchronous :meth:`invoke`."""
        error: OutputParserException | None = None
        for chain in self._chains():
            if error is not None:
                await adispatch_custom_event(FALLBACK_EVENT, self._event, config=config)
            try:
                return await chain.ainvoke(variables, config)
            except OutputParserException as e:
                error = e
        assert error is not None  # at least one attempt ran
        raise error


def _from_structured(
    result: Any,
    config: RunnableConfig,
    convert: Callable[[Any], OutputT],
    parser: BaseOutputParser[OutputT],
) -> OutputT:
    """Convert ``with_structured_output(..., include_raw=True)`` output, raising on failure.

    A model that answered in text instead of a tool call is read by the text parser from the
    same answer (counted as a ``text_parser`` fallback) before the step resamples.
    """
    if not (isinstance(result, dict) and {"raw", "parsed", "parsing_error"} <= result.keys()):
        return convert(result)
    if result["parsing_error"] is None and result["parsed"] is not None:
        return convert(result["parsed"])
    raw = result["raw"]
    raw_text = str(raw.text) if isinstance(raw, BaseMessage) else str(raw)
    problem = (
        f"invalid structured output: {result['parsing_error']}"
        if result["parsing_error"] is not None
        else "the model returned no structured output"
    )
    if raw_text.strip():
        dispatch_custom_event(FALLBACK_EVENT, {"kind": "text_parser"}, config=config)
        try:
            return parser.parse(raw_text)
        except OutputParserException as e:
            problem = f"{problem}, and its text did not parse either: {e}"
    raise OutputParserException(problem, llm_output=raw_text)


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
    _prompts: list[BasePromptTemplate[Any]] = PrivateAttr(default_factory=list)

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
        structured = self._resolve_structured()
        try:
            self._setup(structured)
        except NotImplementedError as e:
            # A chat model that overrides bind_tools only to refuse it: under "auto" that is
            # "no structured output", so prompt + parser; asked for explicitly, it is an error.
            if not structured or self.structured is True:
                raise ModelConfigError(
                    f"{type(self.llm).__name__} does not implement structured output "
                    "(with_structured_output / bind_tools); pass structured=False"
                ) from e
            self._setup(False)

    def _setup(self, structured: bool) -> None:
        self._use_structured = structured
        self._prompts = []
        settings = self.sampling.model_settings(self._kind)
        if structured:
            # A token cap sized for a one-word answer would cut the JSON of a tool call.
            settings.pop("max_tokens", None)
        # Never the global LLM cache (with_cache copies a model only when its setting differs).
        uncached = with_cache(self.llm, False)
        cache = self._first_attempt_cache()
        first = with_cache(self.llm, cache) if cache is not None else uncached
        self._model, self._applied = configure_model(first, settings)
        self._resample_model, _ = configure_model(uncached, settings)
        if settings.get("temperature") == 0 and self.max_retries:
            resample = {**settings, **RESAMPLE_SETTINGS}
            self._resample_model, _ = configure_model(uncached, resample)
        self._build()

    def _first_attempt_cache(self) -> BaseCache | None:
        """The cache of the first attempt (resamples are never cached); ``None``: no cache."""
        return None

    def _resolve_structured(self) -> bool:
        if self.structured == "auto":
            return self._kind == "chat" and supports_structured_output(self.llm)
        if self.structured and not hasattr(self.llm, "with_structured_output"):
            raise ModelConfigError(f"{type(self.llm).__name__} has no with_structured_output")
        if self.structured and self._kind == "completion":
            raise ModelConfigError(
                f"{type(self.llm).__name__} is a completion model: structured output needs a chat "
                "model with tool calling; pass structured=False or 'auto'"
            )
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
    ) -> Attempts[OutputT]:
        """``attempt(model)``, resampled up to ``max_retries`` times on unparseable output.

        A greedy step (temperature 0, as the paper decodes steps 2 and 3) would only repeat an
        unparseable answer, so its retries sample at :data:`RESAMPLE_SETTINGS` instead.
        """
        resample = attempt(self._resample_model).with_config(run_name="resample")
        return Attempts(self.get_name(), attempt(self._model), resample, self.max_retries)

    def _text_chain(
        self,
        prompt: BasePromptTemplate[Any],
        parser: BaseOutputParser[OutputT],
        extra_stop: Iterable[str] = (),
    ) -> Attempts[OutputT]:
        """``prompt | model | parser`` with the step's stop sequences, retried on parse errors."""
        stop = list(dict.fromkeys([*self.sampling.stop_for(self._kind), *extra_stop]))
        # Completion models get the stop sequences from CompletionAsMessage; the rest by binding.
        bind_stop = any(not isinstance(leaf, BaseLLM) for leaf in leaves(self.llm))

        def attempt(model: Runnable[Any, Any]) -> Runnable[dict[str, Any], OutputT]:
            model = completions_as_messages(model, stop or None)
            if stop and bind_stop:
                model = model.bind(stop=stop)
            if stop:
                cut: StopCutParser[OutputT] = StopCutParser(
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
        parser: BaseOutputParser[OutputT],
    ) -> Attempts[OutputT]:
        """``prompt | model.with_structured_output(schema) | convert``, retried on parse errors.

        ``parser`` reads an answer given as text instead of a tool call.

        OpenAI-compatible servers get ``method="function_calling"``: the OpenAI client's default,
        ``response_format`` of type ``json_schema``, is refused by some (llama.cpp's server).
        """
        options: dict[str, Any] = {"include_raw": True}
        if is_openai_compatible_server(self._model):
            options["method"] = "function_calling"
        converter = RunnableLambda(
            partial(_from_structured, convert=convert, parser=parser), name="convert"
        )

        def attempt(model: Runnable[Any, Any]) -> Runnable[dict[str, Any], OutputT]:
            structured: Runnable[Any, Any] = model.with_structured_output(  # type: ignore[attr-defined]
                schema, **options
            )
            return prompt | structured | converter

        return self._retrying(attempt)

    def _choose_chain(
        self,
        prompt: BasePromptTemplate[Any],
        text: tuple[BaseOutputParser[OutputT], Iterable[str]],
        structured: tuple[type[BaseModel], Callable[[Any], OutputT]],
    ) -> Attempts[OutputT]:
        """The structured chain when the step uses structured output, else the text chain.

        Args:
            prompt: The prompt template.
            text: The parser and the extra stop sequences of the text chain.
            structured: The schema and the converter of the structured chain.
        """
        self._prompts.append(prompt)
        if self._use_structured:
            return self._structured_chain(prompt, *structured, text[0])
        return self._text_chain(prompt, *text)

    def get_prompts(self, config: RunnableConfig | None = None) -> list[BasePromptTemplate[Any]]:
        """The prompt templates the step fills in (the chat or completion variant in use).

        ``Runnable.get_prompts`` looks for them in ``get_graph()``, which shows the step as one
        node; the chains are built per prompt, so the step lists them itself.
        """
        return list(self._prompts)

    def _build(self) -> None:
        raise NotImplementedError

    def _route(self, input: InputT) -> tuple[Attempts[OutputT], dict[str, Any]]:
        raise NotImplementedError

    def _run(
        self, input: InputT, run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> OutputT:
        chain, variables = self._route(input)
        return chain.invoke(variables, config)

    async def _arun(
        self, input: InputT, run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> OutputT:
        chain, variables = self._route(input)
        return await chain.ainvoke(variables, config)

    def invoke(self, input: InputT, config: RunnableConfig | None = None, **kwargs: Any) -> OutputT:
        """Run the step once; raises ``OutputParserException`` when every attempt fails."""
        # The step's own run (named by run_name or the step); its config reaches the attempts
        # as the child config, so they nest under it.
        return self._call_with_config(self._run, input, config)

    async def ainvoke(
        self, input: InputT, config: RunnableConfig | None = None, **kwargs: Any
    ) -> OutputT:
        """Asynchronous :meth:`invoke`."""
        return await self._acall_with_config(self._arun, input, config)
