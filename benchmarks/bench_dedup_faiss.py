"""Benchmarks 2 and 3: a 1,000,000-text pool in FAISS mode; throughput, recall and memory.

The pool is the first ``--n`` texts of the deterministic generated corpus (``bench_dedup_corpus``,
25% edited copies); the candidates are the next ``--queries`` texts, so about a quarter of them
are edited copies of pool texts and others collide with the pool by chance. For each candidate the
FAISS-mode index decides "ROUGE-L > 0.7 with some pool text?" (retrieve ``--candidates`` nearest
texts by lexical-embedding cosine, score those exactly); the exact-mode index over the same pool
gives the true decisions. Recall is the share of true near-duplicates that FAISS mode also
rejects; it cannot report false positives because every reported score is exact.

Throughput is candidates decided per second by ``is_near_duplicate_batch`` in batches of
``--batch`` (embedding, FAISS search and exact re-scoring included), median of ``--runs``.
Memory is measured as resident-set growth while building, and per component.

Usage: ``python benchmarks/bench_dedup_faiss.py [--quick] [--n 1000000] [--runs 3]``
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import faiss

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dedup_corpus import generate_corpus

from langchain_selfinstruct.dedup import NearDuplicateIndex, VectorConfig


def rss_bytes() -> int:
    """Current resident set size (Linux /proc), in bytes."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def decide(index: NearDuplicateIndex, texts: list[str], batch: int) -> tuple[float, list[bool]]:
    start = time.perf_counter()
    decisions: list[bool] = []
    for i in range(0, len(texts), batch):
        decisions.extend(index.is_near_duplicate_batch(texts[i : i + batch]))
    return time.perf_counter() - start, decisions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=5_000)
    parser.add_argument("--quick", action="store_true", help="100,000 texts, 2,000 queries, 1 run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--index-type", default="auto")
    parser.add_argument("--nprobe", type=int, default=16)
    parser.add_argument("--no-exact", action="store_true", help="skip ground truth and recall")
    args = parser.parse_args()
    n, n_queries, runs = (100_000, 2_000, 1) if args.quick else (args.n, args.queries, args.runs)

    start = time.perf_counter()
    corpus = generate_corpus(n + n_queries, seed=0)
    pool, queries = corpus.texts[:n], corpus.texts[n:]
    generate_s = time.perf_counter() - start

    before = rss_bytes()
    start = time.perf_counter()
    index = NearDuplicateIndex(
        mode="faiss",
        candidates=args.candidates,
        vector_config=VectorConfig(index_type=args.index_type, nprobe=args.nprobe),
    )
    index.add(pool)
    build_s = time.perf_counter() - start
    faiss_rss = rss_bytes() - before
    vectors = index._vectors
    assert vectors is not None
    faiss_bytes = len(faiss.serialize_index(vectors.raw))
    pool_bytes = index._pool.memory_bytes()

    times, decisions = [], []
    for _ in range(runs):
        elapsed, got = decide(index, queries, args.batch)
        times.append(elapsed)
        decisions = got
    rate = n_queries / statistics.median(times)

    print(
        f"pool {n:,} texts, {n_queries:,} candidates; corpus generated in {generate_s:.0f} s; "
        f"FAISS index: {vectors.kind}, candidates re-scored per query: {args.candidates}"
    )
    print()
    print("| measure | value |")
    print("|---|---:|")
    print(f"| build (tokenize + embed + FAISS) | {build_s:.0f} s |")
    print(
        f"| candidates checked per second (median of {runs}: "
        f"{', '.join(f'{n_queries / t:,.0f}' for t in times)}) | {rate:,.0f} /s |"
    )
    if not args.no_exact:
        before = rss_bytes()
        start = time.perf_counter()
        exact = NearDuplicateIndex()
        exact.add(pool)
        exact_build_s = time.perf_counter() - start
        exact_rss = rss_bytes() - before
        exact_s, truth = decide(exact, queries, args.batch)
        true_dups = sum(truth)
        found = sum(g and t for g, t in zip(decisions, truth, strict=True))
        false_pos = sum(g and not t for g, t in zip(decisions, truth, strict=True))
        print(
            f"| true near-duplicates among candidates (exact mode) | {true_dups:,} "
            f"({true_dups / n_queries:.1%}) |"
        )
        print(f"| recall of exact decisions | {found / true_dups:.2%} ({found:,}/{true_dups:,}) |")
        print(f"| false positives | {false_pos} |")
        print(
            f"| exact mode on the same pool: build / candidates per second | "
            f"{exact_build_s:.0f} s / {n_queries / exact_s:,.0f} /s |"
        )
        print(f"| memory, exact-mode index (RSS growth) | {exact_rss / 2**20:,.0f} MiB |")
    print(
        f"| memory, FAISS-mode index (RSS growth while building) | {faiss_rss / 2**20:,.0f} MiB |"
    )
    print(f"| of which FAISS index (serialized size) | {faiss_bytes / 2**20:,.0f} MiB |")
    print(f"| of which texts + token store (estimate) | {pool_bytes / 2**20:,.0f} MiB |")


if __name__ == "__main__":
    main()
