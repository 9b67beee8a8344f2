"""Benchmark 1: incremental near-duplicate filtering of 52,000 instruction-like texts.

Each generated text is checked against every text accepted so far and added when its ROUGE-L
with all of them is at most 0.7, exactly as the Self-Instruct loop does. Compared:

* ``NearDuplicateIndex`` exact mode (wall time, median of ``--runs`` runs);
* ``rouge_score`` brute force as in the paper's code (``scorer.score`` of the new instruction
  against every pool instruction) and as in Alpaca's (``_score_lcs`` on cached tokens), both timed
  on a sample of candidates against the full pool at that point and extrapolated to the whole run
  over 2 processes (perfect scaling, which flatters the baseline);
* decisions: identical to rouge_score on every sampled candidate, and identical on all candidates
  to an unpruned scan (rapidfuzz LCS of the candidate against the whole pool, rouge_score's
  float formula), which checks that pruning never changes a decision.

Usage: ``python benchmarks/bench_dedup.py [--quick] [--runs 3] [--sample 24] [--no-verify]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from rouge_score import rouge_scorer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dedup_corpus import generate_corpus

from langchain_selfinstruct.dedup import NearDuplicateIndex
from langchain_selfinstruct.dedup.rouge import fmeasure, lcs_many
from langchain_selfinstruct.dedup.tokenize import Vocabulary, encode_ids, rouge_tokenize

THRESHOLD = 0.7


def run_exact(texts: list[str]) -> tuple[float, list[bool]]:
    """The Self-Instruct loop with the exact index; returns (seconds, rejected flags)."""
    index = NearDuplicateIndex(threshold=THRESHOLD)
    rejected = []
    start = time.perf_counter()
    for text in texts:
        duplicate = index.is_near_duplicate(text)
        if not duplicate:
            index.add([text])
        rejected.append(duplicate)
    return time.perf_counter() - start, rejected


def run_with_provenance(texts: list[str]) -> float:
    """The loop plus what the paper also stores per kept instruction: top-10 and mean score."""
    index = NearDuplicateIndex(threshold=THRESHOLD)
    start = time.perf_counter()
    for text in texts:
        check = index.check(text, k=10)
        if not check.is_duplicate:
            index.average_similarity(text)
            index.add([text])
    return time.perf_counter() - start


def unpruned_decisions(texts: list[str]) -> list[bool]:
    """Reference without any pruning: every candidate against the whole pool."""
    vocab = Vocabulary()
    codes: list[str | list[int]] = []
    lengths: list[int] = []
    rejected = []
    for text in texts:
        ids = vocab.add(rouge_tokenize(text))
        duplicate = False
        if ids and codes:
            scores = fmeasure(
                lcs_many(encode_ids(ids), codes, workers=-1), len(ids), np.array(lengths)
            )
            duplicate = bool((scores > THRESHOLD).any())
        if not duplicate:
            codes.append(encode_ids(ids))
            lengths.append(len(ids))
        rejected.append(duplicate)
    return rejected


def brute_force_sample(
    texts: list[str], rejected: list[bool], sample: int
) -> tuple[float, float, int, int, int]:
    """Time rouge_score on sampled candidates against their full pool.

    Returns:
        Seconds per pair for ``scorer.score`` and for ``_score_lcs`` on cached tokens, total pairs
        of the whole run, sampled pairs, and how many sampled decisions matched.
    """
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    pool_sizes = np.cumsum([0] + [not r for r in rejected[:-1]])
    total_pairs = int(pool_sizes.sum())
    positions = np.linspace(len(texts) // 10, len(texts) - 1, sample).astype(int)
    accepted = [t for t, r in zip(texts, rejected, strict=True) if not r]
    tokens = [scorer._tokenizer.tokenize(t) for t in accepted]
    score_time = lcs_time = 0.0
    pairs = agree = 0
    for pos in positions:
        pool_size = int(pool_sizes[pos])
        candidate = texts[pos]
        start = time.perf_counter()
        scores = [
            scorer.score(candidate, other)["rougeL"].fmeasure for other in accepted[:pool_size]
        ]
        score_time += time.perf_counter() - start
        cand_tokens = scorer._tokenizer.tokenize(candidate)
        start = time.perf_counter()
        for other in tokens[:pool_size]:
            rouge_scorer._score_lcs(cand_tokens, other)
        lcs_time += time.perf_counter() - start
        pairs += pool_size
        agree += (max(scores, default=0.0) > THRESHOLD) == rejected[pos]
    return score_time / pairs, lcs_time / pairs, total_pairs, pairs, agree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=52_000)
    parser.add_argument("--quick", action="store_true", help="5,000 texts, 1 run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=24, help="candidates timed with rouge_score")
    parser.add_argument("--no-verify", action="store_true", help="skip the unpruned full check")
    args = parser.parse_args()
    n, runs = (5_000, 1) if args.quick else (args.n, args.runs)

    corpus = generate_corpus(n, seed=0)
    texts = corpus.texts
    times, decisions = [], []
    for _ in range(runs):
        elapsed, rejected = run_exact(texts)
        times.append(elapsed)
        decisions.append(rejected)
    assert all(d == decisions[0] for d in decisions), "runs disagree"
    rejected = decisions[0]
    provenance = statistics.median(run_with_provenance(texts) for _ in range(runs))
    per_pair_score, per_pair_lcs, total_pairs, sampled_pairs, agree = brute_force_sample(
        texts, rejected, args.sample
    )
    verified = "skipped"
    if not args.no_verify:
        verified = "identical" if unpruned_decisions(texts) == rejected else "DIFFERENT"

    exact = statistics.median(times)
    paper_est = per_pair_score * total_pairs / 2
    alpaca_est = per_pair_lcs * total_pairs / 2
    print(
        f"corpus: {n} texts, {sum(corpus.is_edited_copy)} generated as edited copies "
        f"({sum(corpus.is_edited_copy) / n:.1%}); rejected by ROUGE-L > {THRESHOLD}: "
        f"{sum(rejected)} ({sum(rejected) / n:.1%}); pairs in the brute-force loop: {total_pairs:,}"
    )
    print()
    print("| method | wall time (2 cores) | per candidate | speed-up |")
    print("|---|---:|---:|---:|")
    print(
        f"| rouge_score `scorer.score` loop (Self-Instruct code), extrapolated | "
        f"{paper_est:,.0f} s | {paper_est / n * 1e3:,.1f} ms | 1x |"
    )
    print(
        f"| rouge_score `_score_lcs` on cached tokens (Alpaca code), extrapolated | "
        f"{alpaca_est:,.0f} s | {alpaca_est / n * 1e3:,.1f} ms | {paper_est / alpaca_est:,.1f}x |"
    )
    print(
        f"| NearDuplicateIndex exact, decisions (median of {runs}: "
        f"{', '.join(f'{t:.1f}' for t in times)} s) | {exact:.1f} s | "
        f"{exact / n * 1e6:,.0f} µs | {paper_est / exact:,.0f}x |"
    )
    print(
        f"| NearDuplicateIndex exact, + top-10 and average similarity per kept text | "
        f"{provenance:.1f} s | {provenance / n * 1e6:,.0f} µs | {paper_est / provenance:,.0f}x |"
    )
    print()
    print(
        f"rouge_score per pair: {per_pair_score * 1e6:.0f} µs (`score`), "
        f"{per_pair_lcs * 1e6:.0f} µs (`_score_lcs`), measured on {args.sample} candidates "
        f"({sampled_pairs:,} pairs); decisions equal to rouge_score on {agree}/{args.sample} "
        f"sampled candidates; all {n} decisions vs unpruned scan: {verified}"
    )


if __name__ == "__main__":
    main()
