"""Output parsers and structured-output schemas for the Self-Instruct steps.

The text parsers read the formats of the paper's prompts (Wang et al., 2022, §2.2) and the messy
variants models actually write (chatty preambles, markdown bold, bullets, running on into a new
task). Anything unreadable raises ``OutputParserException``, so the steps can count and retry.
Like the paper's reference code, they drop the last item or instance of a generation cut by the
token limit (see :func:`is_truncated`). A model that reports no finish reason at all
(langchain-community's ``LlamaCpp``, langchain-core's fake models) may have been cut too, so
there the last list item is kept only if it ends like a finished sentence (``.``, ``?``, ``!`` or
``…``, possibly inside quotes or brackets), as instructions do. The last instance is kept: labels,
numbers and code end without punctuation, so its text cannot tell a cut from an ending.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from itertools import dropwhile
from typing import Any, Literal, TypeAlias, TypeVar

from langchain_core.exceptions import OutputParserException
from langchain_core.output_parsers import BaseOutputParser
from langchain_core.outputs import ChatGeneration, Generation
from pydantic import BaseModel, Field, ValidationError

from langchain_selfinstruct.schema import Instance

__all__ = [
    "ClassificationAnswer",
    "GeneratedInstance",
    "InstanceList",
    "InstanceParser",
    "InstructionList",
    "NumberedListParser",
    "YesNoParser",
    "instances_from_structured",
    "instructions_from_structured",
    "is_classification_from_structured",
    "is_truncated",
]

_F = re.IGNORECASE
_BOLD = r"(?:\*\*|__)?"
_BULLET = r"(?:[-*•]\s+)?"
_ITEM_MARKER = re.compile(
    rf"^\s*{_BOLD}\s*(?:(?:(?:task|instruction|item)\s*#?\s*)?\(?\d{{1,3}}\s*[.):](?!\d)|[-*•‣◦▪]\s)",
    _F,
)
_HEADING = re.compile(r"^\s*#{1,6}\s")
_REMARK = re.compile(
    r"^\W*(?:let me know if you (?:need|want|would like|have)|i hope (?:this|these|that) "
    r"(?:helps?|examples?|tasks?|list)|hope (?:this|these|that) helps?|feel free to"
    r"|these (?:tasks|instructions|examples) (?:are|should|cover|can|show|illustrate)|note:)",
    _F,
)
_CHATTY = re.compile(r"^\W*(?:sure|certainly|of course|okay|ok|here|below|great|absolutely)\b", _F)
_BOLD_TITLE = re.compile(r"^\*\*[^*\n]{1,60}?(?::\*\*|\*\*\s*:)\s*(?=\S)")
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "`": "`", "«": "»"}

_YES_NO_PREFIX = re.compile(
    r"^(?:is\s+it\s+(?:a\s+)?classification(?:\s+task)?\s*\??|(?:final\s+)?answer\s*[:-]"
    r"|a\s*:|output\s*:)\s*",
    _F,
)
_YES_NO = re.compile(r"\b(yes|no)\b", _F)
_YES_NO_WINDOW = 80

_EXAMPLE = re.compile(rf"^[\s#]*{_BOLD}\s*example\s*#?\s*\d+\s*{_BOLD}\s*[:.)-]?\s*{_BOLD}\s*", _F)
_INPUT = re.compile(rf"^\s*{_BULLET}{_BOLD}\s*input\s*{_BOLD}\s*[:：]\s*{_BOLD}\s*", _F)
_OUTPUT = re.compile(rf"^\s*{_BULLET}{_BOLD}\s*output\s*{_BOLD}\s*[:：]\s*{_BOLD}\s*", _F)
_CLASS_LABEL = re.compile(
    rf"^\s*{_BULLET}{_BOLD}\s*(?:class\s*)?label\s*{_BOLD}\s*[:：]\s*{_BOLD}\s*", _F
)
_TASK_LINE = re.compile(rf"^[\s#]*{_BOLD}\s*task\s*(?:\d+\s*)?{_BOLD}\s*:", _F)
_NO_INPUT = re.compile(
    r"^[(<\[]?\s*(?:none|n/?a|null|nil|empty|no\s*input|noinput|-+)\s*[)>\]]?\.?$|^(?:\"\"|'')$", _F
)
_TRUNCATED = frozenset({"length", "max_tokens"})
_FINISH_KEYS = ("finish_reason", "stop_reason", "done_reason")
_FINISHED = re.compile(r"[.?!…。？！][\"'”’»)\]]*$")

_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")


def is_truncated(generation: Generation) -> bool:
    """Tell whether a generation stopped because it ran out of tokens.

    Reads ``finish_reason`` (OpenAI, llama.cpp, Gemini), ``stop_reason`` (Anthropic) and
    ``done_reason`` (Ollama) from ``generation_info`` and, for chat generations, from the message's
    ``response_metadata``; ``"length"`` and ``"max_tokens"`` (any case) mean truncated.
    """
    return any(str(reason).lower() in _TRUNCATED for reason in _finish_reasons(generation))


def _finish_reasons(generation: Generation) -> list[Any]:
    info: dict[str, Any] = dict(generation.generation_info or {})
    if isinstance(generation, ChatGeneration):
        info = {**generation.message.response_metadata, **info}
    return [info[key] for key in _FINISH_KEYS if info.get(key) is not None]


def _possibly_cut(text: str, truncated: bool | None) -> bool:
    """Whether a last item must go: cut by the token limit, or maybe cut (no finish reason)."""
    return bool(truncated) or (truncated is None and not _FINISHED.search(text.rstrip()))


def _fail(message: str, text: str) -> OutputParserException:
    return OutputParserException(message, llm_output=text)


def _first_text(result: list[Generation]) -> tuple[str, bool | None]:
    """The first generation's text, and whether it was truncated (``None``: no finish reason)."""
    if not result:
        raise _fail("The model returned no generation.", "")
    first = result[0]
    return first.text, is_truncated(first) if _finish_reasons(first) else None


def _unquote(text: str) -> str:
    closing = _QUOTES.get(text[:1])
    inner = text[1:-1]
    if closing and len(text) >= 2 and text.endswith(closing) and closing not in inner:
        return inner.strip()
    return text


def _clean_item(text: str) -> str:
    text = _BOLD_TITLE.sub("", text.strip())
    return _unquote(text.replace("**", "").strip())


def _dedupe(items: Iterable[str], limit: int | None) -> list[str]:
    seen: set[str] = set()
    kept: list[str] = []
    for item in items:
        key = " ".join(item.split()).casefold()
        if item and key not in seen:
            seen.add(key)
            kept.append(item)
    return kept[:limit] if limit is not None else kept


def _is_separator(line: str, following: list[str]) -> bool:
    """A remark, a heading, or a header right before an item ("Come up with more tasks:").

    A header needs a few words: a short "Answer:" may be the last line of a multi-line item.
    """
    header = line.rstrip(" *_").endswith(":") and len(line.split()) >= 3
    header = header and any(_ITEM_MARKER.match(f) for f in following)
    return header or bool(_REMARK.match(line) or _HEADING.match(line))


def _split_list(text: str, first_item_unnumbered: bool) -> list[str]:
    """Split a list response into raw items, the cut-off last one included."""
    items: list[list[str]] = [[]] if first_item_unnumbered else []
    current: list[str] | None = items[0] if items else None
    gap = False
    lines = text.splitlines()
    for index, line in enumerate(lines):
        marker = _ITEM_MARKER.match(line)
        if marker:
            current = [line[marker.end() :].strip()]
            items.append(current)
            gap = False
        elif not line.strip():
            # A blank line only matters once the item has text: "9.\n\nWrite ..." is still item 9.
            gap = current is not None and any(current)
        elif current is None or gap or _is_separator(line, lines[index + 1 : index + 2]):
            current = None
        else:
            current.append(line.strip())
    return ["\n".join(part for part in item if part) for item in items]


class _InlineParser(BaseOutputParser[_T]):
    """A parser whose async path parses inline.

    ``BaseOutputParser.aparse_result`` hands ``parse_result`` to the thread pool; for a parse
    that takes microseconds the hop costs more than the parse, once per model call.
    """

    async def aparse_result(self, result: list[Generation], *, partial: bool = False) -> _T:
        """Parse on the calling thread; see :meth:`parse_result`."""
        return self.parse_result(result, partial=partial)


class NumberedListParser(_InlineParser[list[str]]):
    r"""Parse a numbered or bulleted list of instructions (paper §2.2, instruction generation).

    Accepts ``9.``, ``9)``, ``Task 9:``, ``Instruction 9:`` and ``-``/``*``/``•`` markers, skips a
    chatty preamble, trailing remarks and headings, removes markdown bold and surrounding quotes,
    and joins an item's continuation lines. Duplicate items keep their first occurrence.

    Example:
        .. code-block:: python

            parser = NumberedListParser(first_item_unnumbered=True)
            parser.parse(" Write a haiku about rain.\n10. Name three prime numbers.")
            # -> ["Write a haiku about rain.", "Name three prime numbers."]
    """

    first_item_unnumbered: bool = False
    """The text before the first marker is an item: completion prompts end with ``"9."``."""
    max_items: int | None = None
    """Keep at most this many items (after dropping a truncated one and duplicates)."""

    @property
    def _type(self) -> str:
        return "self_instruct_numbered_list"

    def parse(self, text: str) -> list[str]:
        """Parse a complete (not truncated) response; see :meth:`parse_result`."""
        return self._parse(text, truncated=False)

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> list[str]:
        """Parse the first generation, dropping its last item if it hit the token limit."""
        text, truncated = _first_text(result)
        return self._parse(text, truncated=truncated)

    def _parse(self, text: str, *, truncated: bool | None) -> list[str]:
        raw = _split_list(text, self.first_item_unnumbered)
        if raw and _possibly_cut(raw[-1], truncated):
            raw = raw[:-1]
        items = _dedupe((_clean_item(item) for item in raw), self.max_items)
        if not items:
            raise _fail("No list items found in the model output.", text)
        return items

    def get_format_instructions(self) -> str:
        """Describe the expected format."""
        return "Write one task per line as a numbered list: '1. <instruction>', '2. ...'."


class YesNoParser(_InlineParser[bool]):
    r"""Parse a yes/no answer such as the classification question (paper §2.2).

    The first ``yes``/``no`` word decides, looked for only at the start of the answer (first line,
    at most 80 characters) after an ``Answer:`` or echoed ``Is it classification?`` prefix, so a
    completion model that runs on into the next task cannot flip the answer.

    Example:
        .. code-block:: python

            YesNoParser().parse("**No**\n\nTask: Write a poem.")  # -> False
    """

    @property
    def _type(self) -> str:
        return "self_instruct_yes_no"

    def parse(self, text: str) -> bool:
        """Return ``True`` for yes, ``False`` for no; raise on anything else."""
        rest = text.replace("*", "").strip()
        while (stripped := _YES_NO_PREFIX.sub("", rest, count=1).lstrip()) != rest:
            rest = stripped
        window = rest[:_YES_NO_WINDOW].splitlines()[:1]
        match = _YES_NO.search(window[0]) if window else None
        if match is None:
            raise _fail("Expected the answer to start with 'Yes' or 'No'.", text)
        return match.group(1).lower() == "yes"

    def get_format_instructions(self) -> str:
        """Describe the expected format."""
        return "Answer with a single word: Yes or No."


def _cut_run_on(lines: list[str], first_label: re.Pattern[str]) -> list[str]:
    """Stop at a new "Task:" after the first label and drop a closing remark paragraph."""
    seen = False
    for index, line in enumerate(lines):
        if seen and _TASK_LINE.match(line):
            lines = lines[:index]
            break
        seen = seen or bool(first_label.match(line))
    # Only a *final* paragraph counts as a remark: outputs (emails, essays) may contain such lines.
    blank = max((i for i, line in enumerate(lines) if not line.strip()), default=None)
    if blank is not None and _REMARK.match("\n".join(lines[blank:]).strip()):
        return lines[:blank]
    return lines


def _split_on(lines: list[str], marker: re.Pattern[str]) -> tuple[list[str], list[list[str]]]:
    """Split at marker lines: the lines before the first marker and one block per marker."""
    head: list[str] = []
    blocks: list[list[str]] = []
    for line in lines:
        match = marker.match(line)
        if match:
            blocks.append([line[match.end() :]])
        elif blocks:
            blocks[-1].append(line)
        else:
            head.append(line)
    return head, blocks


_Raw: TypeAlias = "tuple[list[str], list[str] | None]"


def _pairs(lines: list[str]) -> list[_Raw]:
    """Split a block into (input lines, output lines) pairs; output is None without "Output:"."""
    pairs: list[_Raw] = [([], None)]
    for line in lines:
        label = _INPUT.match(line)
        if label and pairs[-1][1] is not None:
            pairs.append(([line[label.end() :]], None))
        elif label:
            pairs[-1][0].append(line[label.end() :])
        elif output_label := _OUTPUT.match(line):
            if pairs[-1][1] is not None:
                pairs.append(([], None))
            pairs[-1] = (pairs[-1][0], [line[output_label.end() :]])
        else:
            output = pairs[-1][1]
            (pairs[-1][0] if output is None else output).append(line)
    return pairs


def _block_pairs(block: list[str]) -> list[_Raw]:
    """Pairs of one "Example N" block; a block with no label at all is an output, no input.

    The paper's ``parse_input_output`` does the same: small models often write the answer of an
    input-free task straight after "Example 1".
    """
    pairs = _pairs(block)
    if pairs == [(block, None)] and not any(_INPUT.match(line) for line in block):
        return [([], block)]
    return pairs


def _is_preamble(line: str) -> bool:
    return not line.strip() or bool(_CHATTY.match(line)) or line.rstrip(" *_").endswith(":")


def _head_pairs(head: list[str]) -> list[_Raw]:
    """Pairs in the text before any "Example N": only from a labelled pair, minus the preamble."""
    first = next(
        (i for i, line in enumerate(head) if _INPUT.match(line) or _OUTPUT.match(line)), None
    )
    if first is None:
        return []
    lead = [] if _INPUT.match(head[first]) else list(dropwhile(_is_preamble, head[:first]))
    return [pair for pair in _pairs(lead + head[first:]) if pair[1] is not None]


def _join(lines: Iterable[str]) -> str:
    return "\n".join(lines).strip()


def _make_instance(input_text: str, output: str) -> Instance | None:
    input_text, output = input_text.strip(), output.strip()
    if _NO_INPUT.match(input_text):
        input_text = ""
    return Instance(input=input_text, output=output) if output else None


def _output_first_raw(block: list[str]) -> tuple[str, str]:
    """Read one "Class label:" block as (input, label)."""
    label, rest = block[0].strip(), block[1:]
    if not label:
        first = next((i for i, line in enumerate(rest) if line.strip()), None)
        if first is not None and not _INPUT.match(rest[first]):
            label, rest = rest[first].strip(), rest[first + 1 :]
    # Drop "Example N" and "Input:" labels but keep custom "Field:" prefixes as input text.
    kept = [_INPUT.sub("", _EXAMPLE.sub("", line, count=1), count=1) for line in rest]
    return _join(kept), _unquote(label.strip("*_ ").strip())


class InstanceParser(_InlineParser[list[Instance]]):
    r"""Parse generated instances in the paper's input-first or output-first format (paper §2.2).

    ``input_first`` reads ``Example N`` blocks with an optional ``Input:`` (or any custom
    ``Field:``, kept as part of the input) and an ``Output:``; without ``Example`` markers each
    Input/Output pair is one instance. ``output_first`` (classification tasks) reads
    ``Class label: X`` blocks whose remaining text is the input. ``Input: None``/``N/A``/empty
    means no input. A model that runs on into a new ``Task:`` is cut there.

    Example:
        .. code-block:: python

            parser = InstanceParser(mode="input_first")
            parser.parse("Example 1\nInput: 2 + 2\nOutput: 4\nExample 2\nOutput: 7")
            # -> [Instance(input="2 + 2", output="4"), Instance(input="", output="7")]
    """

    mode: Literal["input_first", "output_first"] = "input_first"
    """``"input_first"`` for ordinary tasks, ``"output_first"`` for classification tasks."""
    max_instances: int | None = None
    """Keep at most this many instances."""

    @property
    def _type(self) -> str:
        return "self_instruct_instances"

    def parse(self, text: str) -> list[Instance]:
        """Parse a complete (not truncated) response; see :meth:`parse_result`."""
        return self._parse(text, truncated=False)

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> list[Instance]:
        """Parse the first generation, dropping its last block if it hit the token limit."""
        text, truncated = _first_text(result)
        return self._parse(text, truncated=truncated)

    def _parse(self, text: str, *, truncated: bool | None) -> list[Instance]:
        raw = self._input_first(text) if self.mode == "input_first" else self._output_first(text)
        if truncated:
            raw = raw[:-1]
        instances = [inst for inst in (_make_instance(i, o) for i, o in raw) if inst is not None]
        if not instances:
            raise _fail(f"No instances found in the model output ({self.mode} format).", text)
        return instances[: self.max_instances] if self.max_instances is not None else instances

    @staticmethod
    def _input_first(text: str) -> list[tuple[str, str]]:
        head, blocks = _split_on(_cut_run_on(text.splitlines(), _OUTPUT), _EXAMPLE)
        pairs = _head_pairs(head) + [pair for block in blocks for pair in _block_pairs(block)]
        return [(_join(inputs), _join(outputs or [])) for inputs, outputs in pairs]

    @staticmethod
    def _output_first(text: str) -> list[tuple[str, str]]:
        _, blocks = _split_on(_cut_run_on(text.splitlines(), _CLASS_LABEL), _CLASS_LABEL)
        return [_output_first_raw(block) for block in blocks]

    def get_format_instructions(self) -> str:
        """Describe the expected format."""
        if self.mode == "output_first":
            return "For each example write 'Class label: <label>' then 'Input: <input>' if any."
        return "For each example write 'Example N', then 'Input: <input>' if any, then 'Output:'."


class InstructionList(BaseModel):
    """New task instructions generated from the in-context examples (paper §2.2)."""

    instructions: list[str] = Field(
        description="New, diverse task instructions, one per element. Each is a complete, "
        "self-contained instruction a person could follow, without numbering or quotes."
    )


class ClassificationAnswer(BaseModel):
    """Whether a task is a classification task (paper §2.2)."""

    is_classification: bool = Field(
        description="True if every output of the task is one of a small, finite set of labels "
        "(a classification task, e.g. positive/negative); false for open-ended outputs."
    )


class GeneratedInstance(BaseModel):
    """One input/output example of a task (paper §2.2)."""

    input: str = Field(
        default="",
        description="The task input; an empty string when the instruction needs no input.",
    )
    output: str = Field(description="The correct output (or class label) for this input.")


class InstanceList(BaseModel):
    """Input/output examples for one task (paper §2.2)."""

    instances: list[GeneratedInstance] = Field(
        description="Distinct, correct input/output examples of the task."
    )


def _coerce(schema: type[_M], obj: object) -> _M:
    if isinstance(obj, schema):
        return obj
    data = obj.model_dump() if isinstance(obj, BaseModel) else obj
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        message = f"Structured output is not a valid {schema.__name__}: {error}"
        raise _fail(message, str(obj)) from error


def instructions_from_structured(
    obj: InstructionList | Mapping[str, Any], *, max_items: int | None = None
) -> list[str]:
    """Clean an :class:`InstructionList` (or dict) as :class:`NumberedListParser` cleans text.

    Strips list markers, bold and quotes, drops empty and duplicate items, keeps ``max_items``.

    Raises:
        OutputParserException: ``obj`` does not match the schema or holds no instruction.
    """
    parsed = _coerce(InstructionList, obj)
    cleaned = []
    for item in parsed.instructions:
        marker = _ITEM_MARKER.match(item)
        cleaned.append(_clean_item(item[marker.end() :] if marker else item))
    items = _dedupe(cleaned, max_items)
    if not items:
        raise _fail("The structured output holds no instruction.", str(obj))
    return items


def is_classification_from_structured(obj: ClassificationAnswer | Mapping[str, Any]) -> bool:
    """Read a :class:`ClassificationAnswer` (or dict) as :class:`YesNoParser` output.

    Raises:
        OutputParserException: ``obj`` does not match the schema.
    """
    return _coerce(ClassificationAnswer, obj).is_classification


def instances_from_structured(
    obj: InstanceList | Mapping[str, Any], *, max_instances: int | None = None
) -> list[Instance]:
    """Convert an :class:`InstanceList` (or dict) to instances as :class:`InstanceParser` does.

    Text is stripped, "None"/"N/A" inputs become ``""``, empty outputs are dropped.

    Raises:
        OutputParserException: ``obj`` does not match the schema or holds no usable instance.
    """
    parsed = _coerce(InstanceList, obj)
    made = (_make_instance(item.input, item.output) for item in parsed.instances)
    instances = [inst for inst in made if inst is not None]
    if not instances:
        raise _fail("The structured output holds no instance with an output.", str(obj))
    return instances[:max_instances] if max_instances is not None else instances
