"""Cost per task in instructions and cache misses: a noise-free companion to bench.py's CPU times.

    apt-get install valgrind && pip install -e '.[bench]'
    python benchmarks/instructions.py                       # plain, otel, naive-json, ours-off, ours-json
    python benchmarks/instructions.py --configs plain,ours-json,ours-logging

On a shared VM the CPU time of one task moves by ±20 % from run to run; counts do not. Each configuration
runs the same in-process worker request path as bench.py's micro benchmark under valgrind's cachegrind
(simulated caches), twice: with 1,200 and with 200 tasks after the warm-up, so the difference is what
1,000 tasks cost, start-up excluded. Per task it prints the instructions executed, the first-level cache
misses (instruction and data) and an estimate of cycles, ``Ir + 10 * L1 misses + 100 * last-level
misses`` (cold code and data cost far more than their instruction count), with the overhead over
``plain`` and its ratio to OpenTelemetry's. Ends with one machine-readable JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SMALL, LARGE = 200, 1200
# cachegrind's summary lines, e.g. "==42== I1  misses:  1,234" (labels padded with spaces)
EVENTS = {"I": "ir", "I1": "i1", "LLi": "lli", "D1": "d1", "LLd": "lld"}


def _counts(config: str, tasks: int) -> dict[str, int]:
    """Run ``tasks`` tasks of ``config`` under cachegrind and return its totals."""
    with tempfile.TemporaryDirectory() as out:
        run = subprocess.run(
            [
                "valgrind",
                "--tool=cachegrind",
                "--cache-sim=yes",
                f"--cachegrind-out-file={out}/cg.out",
                sys.executable,
                str(HERE / "bench.py"),
                "--child-micro",
                config,
                "--tasks",
                str(tasks),
            ],
            capture_output=True,
            text=True,
            # The same hash seed in both runs, so both lay out their dicts alike.
            env={
                **os.environ,
                "PYTHONHASHSEED": "0",
                "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent)]),
            },
        )
    if run.returncode:
        raise RuntimeError(f"{config}: {run.stderr[-2000:]}")
    totals: dict[str, int] = {}
    for label, key in EVENTS.items():
        pattern = rf"== {label}\s+refs:\s+([\d,]+)" if key == "ir" else rf"== {label}\s+misses:\s+([\d,]+)"
        found = re.search(pattern, run.stderr)
        if found is None:
            raise RuntimeError(f"{config}: no {label!r} in cachegrind's summary")
        totals[key] = int(found.group(1).replace(",", ""))
    return totals


def per_task(config: str) -> dict[str, float]:
    """Instructions, L1 misses and estimated cycles per task of ``config``."""
    small, large = _counts(config, SMALL), _counts(config, LARGE)
    d = {key: (large[key] - small[key]) / (LARGE - SMALL) for key in large}
    l1, ll = d["i1"] + d["d1"], d["lli"] + d["lld"]
    return {
        "instructions": d["ir"],
        "l1_misses": l1,
        "ll_misses": ll,
        "est_cycles": d["ir"] + 10 * l1 + 100 * ll,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", default="plain,otel,naive-json,ours-off,ours-json")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    configs = args.configs.split(",")
    rows = {}
    for config in configs:
        rows[config] = per_task(config)
        print(f"  {config} done", file=sys.stderr, flush=True)
    plain = rows.get("plain")
    otel = rows.get("otel")
    otel_overhead = otel["est_cycles"] - plain["est_cycles"] if plain and otel else None
    print("\nPer task, worker request path in-process (cachegrind, simulated caches)")
    print(
        f"{'config':<14}{'instructions':>14}{'L1 misses':>11}{'est. cycles':>13}{'overhead':>11}"
        f"{'/ OTel ovh':>12}"
    )
    print("-" * 75)
    for config, row in rows.items():
        overhead = row["est_cycles"] - plain["est_cycles"] if plain else float("nan")
        row["overhead_cycles"] = overhead
        row["ratio_otel_overhead"] = overhead / otel_overhead if otel_overhead else float("nan")
        print(
            f"{config:<14}{row['instructions']:>14,.0f}{row['l1_misses']:>11,.0f}{row['est_cycles']:>13,.0f}"
            f"{overhead:>11,.0f}{row['ratio_otel_overhead']:>12.2f}"
        )
    print(json.dumps({"per_task": rows, "python": sys.version.split()[0]}, sort_keys=True))


if __name__ == "__main__":
    main()
