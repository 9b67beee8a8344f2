"""Schemas, graphs, prompts and repr of the pipeline and the steps."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake import FakeListLLM
from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda

from langchain_selfinstruct import FakeSelfInstructLLM, SelfInstructPipeline
from langchain_selfinstruct.steps import (
    ClassificationIdentifier,
    InstanceGenerator,
    InstructionGenerator,
)


def test_pipeline_input_schema_graph_prompts_and_tool() -> None:
    pipeline = SelfInstructPipeline(FakeSelfInstructLLM())
    schema = pipeline.get_input_jsonschema()
    assert "num_instructions" in str(schema)
    assert pipeline.get_graph().nodes
    assert len(pipeline.get_prompts()) == 4  # §2.1, §2.2, §2.3 input- and output-first
    tool = pipeline.as_tool(name="self_instruct", description="Grow an instruction dataset.")
    assert set(tool.args) == {"num_instructions"}


def _target(n: int) -> dict[str, int]:
    return {"num_instructions": n}


def test_a_chain_containing_the_pipeline_has_a_graph() -> None:
    pipeline = SelfInstructPipeline(FakeSelfInstructLLM())
    head: Runnable[int, Any] = RunnableLambda(_target)
    chain = head | pipeline
    assert len(chain.get_graph().nodes) >= 3


def test_a_step_lists_the_prompt_it_will_use() -> None:
    llm = FakeListLLM(responses=["Yes"])
    (prompt,) = ClassificationIdentifier(llm).get_prompts()
    assert isinstance(prompt, BasePromptTemplate)
    assert "instruction" in prompt.input_variables
    assert "Is it classification?" in prompt.format(instruction="Sort these.")
    (generation,) = InstructionGenerator(llm).get_prompts()
    assert "instructions" in generation.input_variables
    assert len(InstanceGenerator(llm).get_prompts()) == 2  # input-first and output-first


def test_repr_of_the_pipeline_is_short() -> None:
    text = repr(SelfInstructPipeline(FakeSelfInstructLLM()))
    assert len(text) < 2_000, len(text)
    assert "175 tasks" in text
