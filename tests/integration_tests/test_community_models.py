"""One round of the loop on langchain-community's llama.cpp models and the embedded GGUF.

Users bring ``LlamaCpp`` and ``ChatLlamaCpp`` from existing apps. ``LlamaCpp`` reports no
``finish_reason``, so the parsers treat a last item that does not end a sentence as possibly cut
(see :mod:`langchain_selfinstruct.parsers`). Needs the ``[community]`` and ``[local]`` extras.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any, cast

import pytest
from langchain_core.language_models import BaseLanguageModel, BaseLLM

from langchain_selfinstruct import SelfInstructPipeline, embedded_model_path, load_tasks
from langchain_selfinstruct.runner import run_to_directory
from tests.integration_tests.conftest import assert_every_candidate_is_accounted_for
from tests.markers import NEEDS_LOCAL

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.community,
    pytest.mark.skipif(
        importlib.util.find_spec("langchain_community") is None,
        reason='needs the community extra: pip install "langchain-selfinstruct[community]"',
    ),
    NEEDS_LOCAL,
    # langchain-community announces its own sunset on import; that is not our failure.
    pytest.mark.filterwarnings("ignore:`langchain-community` is being sunset:DeprecationWarning"),
]

_SETTINGS: dict[str, Any] = {"n_ctx": 2048, "seed": 0, "verbose": False, "max_tokens": 256}
_FINISHED = re.compile(r"[.?!…。？！][\"'”’»)\]]*$")


def _llamacpp() -> BaseLLM:
    from langchain_community.llms import LlamaCpp

    return cast(BaseLLM, LlamaCpp(model_path=str(embedded_model_path()), n_threads=1, **_SETTINGS))


def _community_model(kind: str) -> BaseLanguageModel[Any]:
    if kind == "LlamaCpp":
        return _llamacpp()
    from langchain_community.chat_models import ChatLlamaCpp

    chat = ChatLlamaCpp(model_path=str(embedded_model_path()), n_threads=1, **_SETTINGS)
    return cast("BaseLanguageModel[Any]", chat)


@pytest.mark.parametrize("kind", ["LlamaCpp", "ChatLlamaCpp"])
def test_one_round_of_the_loop_runs_and_accounts_for_every_candidate(
    tmp_path: Path, kind: str
) -> None:
    llm = _community_model(kind)
    pipeline = SelfInstructPipeline(
        llm, preset="fast", max_concurrency=1, max_stalled_rounds=1, model_label=f"community:{kind}"
    )
    summary = run_to_directory(pipeline, tmp_path, 1)
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["stop_reason"] in ("target", "stalled")
    assert stats["model_calls"] >= 1
    assert stats["generated_instructions"] + stats["failures"].get("generate_instructions", 0) >= 1
    assert_every_candidate_is_accounted_for(stats)
    tasks = load_tasks(tmp_path / "tasks.jsonl", allow_empty=True)
    assert len(tasks) == summary.stats.accepted <= 1
    for task in tasks:
        assert task.instances
        assert task.model == f"community:{kind}"


def test_llamacpp_reports_no_finish_reason_and_a_possibly_cut_last_item_is_dropped() -> None:
    from langchain_core.exceptions import OutputParserException

    from langchain_selfinstruct import InstructionGenerator, NumberedListParser, load_seed_tasks

    # A token limit this short cuts the list mid-item on most calls.
    llm = _llamacpp().model_copy(update={"max_tokens": 24})
    parser = NumberedListParser(first_item_unnumbered=True)
    seeds = load_seed_tasks()
    checked = 0
    for offset in range(0, 32, 8):
        prompt = "".join(f"{i}. {t.instruction}\n" for i, t in enumerate(seeds[offset:][:8], 1))
        generation = llm.generate([prompt + "9."]).generations[0][0]
        assert not (generation.generation_info or {}).get("finish_reason")
        try:
            whole = parser.parse(generation.text)  # read as if complete
        except OutputParserException:
            continue
        expected = whole if _FINISHED.search(whole[-1]) else whole[:-1]
        if expected:
            assert parser.parse_result([generation]) == expected
        else:
            with pytest.raises(OutputParserException):
                parser.parse_result([generation])
        checked += 1
    assert checked >= 2
    # The step degrades the same way: items, or a parser error once its resamples are spent.
    try:
        new, error = InstructionGenerator(llm, preset="fast").invoke(seeds[:8]), ""
    except OutputParserException as raised:
        new, error = [], str(raised)
    assert new or "No list items" in error
    assert all(isinstance(text, str) and text for text in new)
