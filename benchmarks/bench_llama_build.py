"""Raw llama.cpp speed of one or more llama-cpp-python builds, on the same prompts.

Each build lives in its own virtual environment; pass each one's interpreter. Every measurement
runs in a child process of that interpreter (a build that crashes is reported, not fatal):
prompt evaluation (a ~500-token few-shot prompt, cold context), generation (128 tokens of
counting), with 1 and 2 threads, and two single-thread copies generating side by side.

    python benchmarks/bench_llama_build.py --runs 3 \
        --build portable=.venv/bin/python --build native=/tmp/venv-native/bin/python \
        --build native-nbatch1=/tmp/venv-native/bin/python@1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

from langchain_selfinstruct import embedded_model_path, load_seed_tasks

# Runs inside the build's interpreter: only llama_cpp and the standard library.
_CHILD = r"""
import json, sys, threading, time
import llama_cpp

model, prompt, layout, n_batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
copies, threads = (int(part) for part in layout.split("x"))
llms = [
    llama_cpp.Llama(model_path=model, n_ctx=2048, n_threads=threads, n_threads_batch=threads,
                    n_batch=n_batch, verbose=False)
    for _ in range(copies)
]

def prompt_eval(llm):
    llm.reset()
    start = time.perf_counter()
    out = llm.create_completion(prompt, max_tokens=1, temperature=0.0)
    return out["usage"]["prompt_tokens"], time.perf_counter() - start

def generate(llm, results):
    llm.reset()
    start = time.perf_counter()
    # Counting goes on past max_tokens at temperature 0, without a logits processor (which
    # would add Python work per token).
    out = llm.create_completion("1, 2, 3, 4, 5, 6, 7,", max_tokens=128, temperature=0.0)
    results.append((out["usage"]["completion_tokens"], time.perf_counter() - start))

prompt_eval(llms[0])  # warm-up: first-touch page faults and thread start
tokens, seconds = prompt_eval(llms[0])
results = []
workers = [threading.Thread(target=generate, args=(llm, results)) for llm in llms]
start = time.perf_counter()
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
wall = time.perf_counter() - start
print(json.dumps({
    "system_info": llama_cpp.llama_print_system_info().decode(errors="replace"),
    "prompt_tok_s": tokens / seconds,
    "gen_tok_s": sum(n for n, _ in results) / wall,
}))
"""
LAYOUTS = ("1x1", "1x2", "2x1")  # copies x threads


def few_shot_prompt() -> str:
    """About 500 tokens of instruction-like text, the shape of the loop's prompts."""
    lines = [f"{n}. {task.instruction}" for n, task in enumerate(load_seed_tasks()[:24], 1)]
    return "Come up with a series of tasks:\n" + "\n".join(lines) + "\n25."


def measure(python: str, layout: str, prompt: str) -> dict[str, Any]:
    """One child run of ``layout`` under ``python[@n_batch]``; a crash is reported in ``error``."""
    python, _, n_batch = python.partition("@")
    argv = [python, "-c", _CHILD, str(embedded_model_path()), prompt, layout, n_batch or "512"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return {"error": f"signal {-done.returncode}" if done.returncode < 0 else last[:120]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--build",
        action="append",
        required=True,
        metavar="NAME=PYTHON[@N_BATCH]",
        help="a build's interpreter; @N_BATCH sets llama.cpp's n_batch (default 512)",
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    builds = dict(item.split("=", 1) for item in args.build)
    prompt = few_shot_prompt()
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _ in range(args.runs):  # builds alternate within each run, so load drifts hit all alike
        for name, python in builds.items():
            for layout in LAYOUTS:
                samples.setdefault((name, layout), []).append(measure(python, layout, prompt))
    print("| build | copies x threads | prompt tok/s (1 copy) | generated tok/s (all copies) |")
    print("| --- | --- | ---: | ---: |")
    for (name, layout), runs in samples.items():
        good = [run for run in runs if "error" not in run]
        if not good:
            print(f"| {name} | {layout} | crashed: {runs[0]['error']} | |")
            continue
        prompt_rate = statistics.median(run["prompt_tok_s"] for run in good)
        gen_rate = statistics.median(run["gen_tok_s"] for run in good)
        print(f"| {name} | {layout} | {prompt_rate:.0f} | {gen_rate:.1f} |")
    for name, python in builds.items():
        info = next((r["system_info"] for r in samples[(name, "1x1")] if "error" not in r), "")
        print(f"{name}: {python}: {info.strip() or 'no system info (crashed)'}", file=sys.stderr)


if __name__ == "__main__":
    main()
