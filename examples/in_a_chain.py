"""Drop Self-Instruct into an existing LangChain app.

1. The whole pipeline as one step of a larger chain: a request goes in, a markdown table of new
   tasks comes out.
2. The instance generator as a tool-like Runnable in someone else's chain: it writes the few-shot
   examples of their prompt, and ``.as_tool()`` hands it to an agent.

Run: ``python examples/in_a_chain.py`` (the embedded SmolLM2 model; needs the ``local`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseLanguageModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough
from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from langchain_selfinstruct import (
    Instance,
    InstanceGenerator,
    SelfInstructPipeline,
    Task,
    get_preset,
    load_embedded_model,
)
from langchain_selfinstruct.pipeline import PipelineInput

ANSWER_PROMPT = PromptTemplate.from_template(
    "{instruction}\n\n{examples}\n\nInput: {input}\nOutput:"
)


class ExampleRequest(BaseModel):
    """Arguments of the ``write_examples`` tool."""

    instruction: str = Field(description="The task to write input/output examples for.")
    is_classification: bool = Field(
        default=False, description="True when every answer is one label from a small set."
    )


def report_chain(llm: BaseLanguageModel[Any]) -> Runnable[dict[str, Any], str]:
    """``{"title", "num_instructions"}`` in, a markdown report of new tasks out."""
    pipeline = SelfInstructPipeline(llm, preset=get_preset("fast"), max_concurrency=2)
    generate = RunnableLambda(pipeline_input) | pipeline
    return RunnablePassthrough.assign(tasks=generate) | RunnableLambda(markdown_report)


def pipeline_input(fields: Mapping[str, Any]) -> PipelineInput:
    """Pick the pipeline's input out of the request."""
    return {"num_instructions": fields["num_instructions"]}


def markdown_report(fields: Mapping[str, Any]) -> str:
    """Render the pipeline's tasks as a markdown table under the request's title."""
    tasks: list[Task] = fields["tasks"]
    rows = [f"## {fields['title']}", "", "| Instruction | Kind | Example |", "| --- | --- | --- |"]
    for task in tasks:
        kind = "classification" if task.is_classification else "open"
        example = as_few_shot(task.instances[:1]).replace("\n", " ")
        rows.append(f"| {_cell(task.instruction)} | {kind} | {_cell(example)} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def as_few_shot(instances: list[Instance]) -> str:
    """Format instances the way few-shot prompts usually show them."""
    return "\n\n".join(f"Input: {i.input or '(none)'}\nOutput: {i.output}" for i in instances)


def few_shot_chain(llm: BaseLanguageModel[Any]) -> Runnable[dict[str, Any], str]:
    """Someone else's chain: answer an input, with examples the instance generator wrote."""
    examples = InstanceGenerator(llm, max_instances=2, preset="fast") | as_few_shot
    return RunnablePassthrough.assign(examples=examples) | ANSWER_PROMPT | llm | StrOutputParser()


def examples_tool(llm: BaseLanguageModel[Any]) -> BaseTool:
    """The instance generator as a tool an agent can call."""
    generator = InstanceGenerator(llm, max_instances=3, preset="fast") | as_few_shot
    return generator.as_tool(
        args_schema=ExampleRequest,
        name="write_examples",
        description="Write input/output examples for a task instruction.",
    )


@dataclass(frozen=True)
class Outputs:
    """What the three uses produced."""

    report: str
    answer: str
    tool_output: str


def main(llm: BaseLanguageModel[Any] | None = None) -> Outputs:
    """Run the pipeline inside a chain, then the instance generator in two other roles."""
    model = llm if llm is not None else load_embedded_model()
    report = report_chain(model).invoke({"title": "New tasks", "num_instructions": 3})
    print(report, end="\n\n")
    request = {
        "instruction": "Convert the temperature from Celsius to Fahrenheit.",
        "is_classification": False,
        "input": "25 C",
    }
    answer = few_shot_chain(model).invoke(request)
    print(f"Answer: {answer.strip()}\n")
    tool_output = examples_tool(model).invoke(
        {"instruction": "Is this review positive or negative?", "is_classification": True}
    )
    print(f"write_examples tool:\n{tool_output}")
    return Outputs(report=report, answer=answer, tool_output=str(tool_output))


if __name__ == "__main__":
    main()
