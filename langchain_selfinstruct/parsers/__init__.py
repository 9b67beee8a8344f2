"""Output parsers and structured-output schemas for the Self-Instruct steps.

The text parsers read the formats of the paper's prompts (Wang et al., 2022, §2.1-§2.3) and the
messy variants models actually write (chatty preambles, markdown bold, bullets, running on into a
new task).
"""

from langchain_selfinstruct.parsers._text import InlineParser, is_truncated
from langchain_selfinstruct.parsers.instances import InstanceParser
from langchain_selfinstruct.parsers.numbered_list import NumberedListParser
from langchain_selfinstruct.parsers.stop_cut import (
    StopCutParser,
    cut_at_stop,
    generation_to_message,
)
from langchain_selfinstruct.parsers.structured import (
    ClassificationAnswer,
    GeneratedInstance,
    InstanceList,
    InstructionList,
    instances_from_structured,
    instructions_from_structured,
    is_classification_from_structured,
)
from langchain_selfinstruct.parsers.yes_no import YesNoParser

__all__ = [
    "ClassificationAnswer",
    "GeneratedInstance",
    "InlineParser",
    "InstanceList",
    "InstanceParser",
    "InstructionList",
    "NumberedListParser",
    "StopCutParser",
    "YesNoParser",
    "cut_at_stop",
    "generation_to_message",
    "instances_from_structured",
    "instructions_from_structured",
    "is_classification_from_structured",
    "is_truncated",
]
