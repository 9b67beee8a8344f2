"""Data quality: decontamination, diversity metrics, and the review of a run (issue 14)."""

from langchain_selfinstruct.quality.decontaminate import (
    DEFAULT_NGRAM,
    Decontaminator,
    load_exclusion_texts,
)
from langchain_selfinstruct.quality.decontaminate_run import (
    CONTAMINATED_FILE,
    DecontaminationResult,
    decontaminate_run,
)

__all__ = [
    "CONTAMINATED_FILE",
    "DEFAULT_NGRAM",
    "DecontaminationResult",
    "Decontaminator",
    "decontaminate_run",
    "load_exclusion_texts",
]
