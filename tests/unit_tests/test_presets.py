"""Tests for langchain_selfinstruct.presets: the paper's parameters and preset lookup."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from langchain_selfinstruct.presets import PRESETS, Preset, SamplingParams, get_preset


def test_faithful_preset_has_the_papers_request_parameters() -> None:
    preset = get_preset("faithful")
    step1, step2, step3 = (
        preset.instruction_generation,
        preset.classification,
        preset.instance_generation,
    )
    assert (step1.temperature, step1.top_p, step1.max_tokens) == (0.7, 0.5, 1024)
    assert (step1.presence_penalty, step1.frequency_penalty) == (2.0, 0.0)
    assert step1.stop == ("\n\n", "\n16", "16.", "16 .")
    assert (step2.temperature, step2.top_p, step2.max_tokens) == (0.0, 0.0, 3)
    assert step2.stop == ("\n", "Task")
    assert (step3.temperature, step3.top_p, step3.max_tokens) == (0.0, 0.0, 300)
    assert step3.presence_penalty == 1.5
    # "Example 6" is derived from max_instances by InstanceGenerator, not stored here.
    assert step3.stop == ("Task:",)


def test_faithful_preset_has_the_papers_pipeline_settings() -> None:
    preset = get_preset("faithful")
    assert preset.num_prompt_instructions == 8
    assert preset.num_human_in_prompt == 6
    assert preset.max_instances == 5
    assert preset.rouge_threshold == 0.7
    assert (preset.min_words, preset.max_words) == (3, 150)


def test_no_preset_uses_the_blank_line_stop_for_chat_prompts() -> None:
    for preset in PRESETS.values():
        for params in (
            preset.instruction_generation,
            preset.classification,
            preset.instance_generation,
        ):
            assert "\n\n" not in params.stop_for("chat")


def test_fast_preset_only_shortens_outputs() -> None:
    faithful, fast = get_preset("faithful"), get_preset("fast")
    assert fast.name == "fast"
    assert fast.instruction_generation.max_tokens is not None
    assert fast.instruction_generation.max_tokens < 1024
    assert fast.instance_generation.max_tokens is not None
    assert fast.instance_generation.max_tokens < 300
    assert fast.max_instances < faithful.max_instances
    same = {"max_tokens": None}
    assert fast.instruction_generation.model_copy(update=same) == (
        faithful.instruction_generation.model_copy(update=same)
    )
    assert fast.classification == faithful.classification


def test_get_preset_lists_valid_names_on_error() -> None:
    with pytest.raises(ValueError, match=r"unknown preset .nope.*faithful, fast"):
        get_preset("nope")


def test_presets_are_keyed_by_their_name() -> None:
    assert set(PRESETS) == {"faithful", "fast"}
    assert all(name == preset.name for name, preset in PRESETS.items())


def test_model_settings_skip_unset_values_and_stops() -> None:
    params = SamplingParams(temperature=0.2, stop=("x",))
    assert params.model_settings("completion") == {"temperature": 0.2}
    assert params.model_settings("chat") == {"temperature": 0.2}


def test_chat_max_tokens_overrides_max_tokens_for_chat_only() -> None:
    params = SamplingParams(max_tokens=3, chat_max_tokens=16)
    assert params.model_settings("completion")["max_tokens"] == 3
    assert params.model_settings("chat")["max_tokens"] == 16
    assert SamplingParams(max_tokens=3).model_settings("chat")["max_tokens"] == 3


def test_stop_for_picks_the_variant() -> None:
    params = SamplingParams(stop=("\n\n",), chat_stop=("END",))
    assert params.stop_for("completion") == ["\n\n"]
    assert params.stop_for("chat") == ["END"]
    assert SamplingParams().stop_for("chat") == []


def test_sampling_params_are_frozen_and_strict() -> None:
    params = SamplingParams(temperature=0.5)
    with pytest.raises(ValidationError):
        params.temperature = 1.0
    with pytest.raises(ValidationError):
        SamplingParams(temprature=0.5)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        SamplingParams(max_tokens=0)


def test_preset_validates_ranges() -> None:
    with pytest.raises(ValidationError):
        Preset(name="x", rouge_threshold=1.5)
    with pytest.raises(ValidationError):
        Preset(name="x", max_instances=0)
