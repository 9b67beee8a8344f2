"""Parse generated instances, input-first or output-first (paper §2.3)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import dropwhile
from typing import Literal, TypeAlias

from langchain_selfinstruct.parsers._text import (
    BOLD,
    BULLET,
    CHATTY,
    REMARK,
    TruncationAwareParser,
    fail,
    unquote,
)
from langchain_selfinstruct.schema import Instance

__all__ = ["InstanceParser", "make_instance"]

_F = re.IGNORECASE
_EXAMPLE = re.compile(rf"^[\s#]*{BOLD}\s*example\s*#?\s*\d+\s*{BOLD}\s*[:.)-]?\s*{BOLD}\s*", _F)
_INPUT = re.compile(rf"^\s*{BULLET}{BOLD}\s*input\s*{BOLD}\s*[:：]\s*{BOLD}\s*", _F)
_OUTPUT = re.compile(rf"^\s*{BULLET}{BOLD}\s*output\s*{BOLD}\s*[:：]\s*{BOLD}\s*", _F)
_CLASS_LABEL = re.compile(
    rf"^\s*{BULLET}{BOLD}\s*(?:class\s*)?label\s*{BOLD}\s*[:：]\s*{BOLD}\s*", _F
)
_TASK_LINE = re.compile(rf"^[\s#]*{BOLD}\s*task\s*(?:\d+\s*)?{BOLD}\s*:", _F)
NO_INPUT = re.compile(
    r"^[(<\[]?\s*(?:none|n/?a|null|nil|empty|no\s*input|noinput|-+)\s*[)>\]]?\.?$|^(?:\"\"|'')$", _F
)


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
    if blank is not None and REMARK.match("\n".join(lines[blank:]).strip()):
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
    return not line.strip() or bool(CHATTY.match(line)) or line.rstrip(" *_").endswith(":")


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


def make_instance(input_text: str, output: str) -> Instance | None:
    """An instance from stripped text (a "None"/"N/A" input is no input), or None without output."""
    input_text, output = input_text.strip(), output.strip()
    if NO_INPUT.match(input_text):
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
    return _join(kept), unquote(label.strip("*_ ").strip())


class InstanceParser(TruncationAwareParser[list[Instance]]):
    r"""Parse generated instances in the paper's input-first or output-first format (paper §2.3).

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

    def _parse(self, text: str, *, truncated: bool | None) -> list[Instance]:
        raw = self._input_first(text) if self.mode == "input_first" else self._output_first(text)
        if truncated:
            raw = raw[:-1]
        instances = [inst for inst in (make_instance(i, o) for i, o in raw) if inst is not None]
        if not instances:
            raise fail(f"No instances found in the model output ({self.mode} format).", text)
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
