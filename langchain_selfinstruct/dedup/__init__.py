"""Near-duplicate detection for instruction pools (the paper's ROUGE-L novelty filter).

``rouge_l`` equals ``rouge_score``'s ROUGE-L F-measure; ``NearDuplicateIndex`` answers "does this
new text have ROUGE-L > 0.7 with anything in the pool?" exactly and fast, or approximately via
FAISS for very large pools, with an optional embedding-based paraphrase rule.
"""

from langchain_selfinstruct.dedup._vectors import VectorConfig
from langchain_selfinstruct.dedup.check import DuplicateCheck, DuplicateReason, Mode
from langchain_selfinstruct.dedup.embedding import LexicalHashEmbeddings
from langchain_selfinstruct.dedup.index import NearDuplicateIndex
from langchain_selfinstruct.dedup.protocol import DuplicateCheckLike, DuplicateIndex, PoolIndex
from langchain_selfinstruct.dedup.rouge import rouge_l, rouge_l_tokens
from langchain_selfinstruct.dedup.tokenize import (
    TokenizerName,
    rouge_tokenize,
    unicode_tokenize,
)

__all__ = [
    "DuplicateCheck",
    "DuplicateCheckLike",
    "DuplicateIndex",
    "DuplicateReason",
    "LexicalHashEmbeddings",
    "Mode",
    "NearDuplicateIndex",
    "PoolIndex",
    "TokenizerName",
    "VectorConfig",
    "rouge_l",
    "rouge_l_tokens",
    "rouge_tokenize",
    "unicode_tokenize",
]
