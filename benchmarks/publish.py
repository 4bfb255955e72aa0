"""Cost per publish: ``app.send_task`` on an in-memory broker, with and without tracing installed.

    python benchmarks/publish.py                      # CPU time per publish, fastest chunk of each run
    python benchmarks/publish.py --instructions       # instructions per publish under cachegrind
    python benchmarks/publish.py --hook-only ...      # only the before_task_publish receivers

The publish path is the client's: a web process that calls ``send_task`` / ``delay``. Configurations:

- ``plain``: Celery alone;
- ``ours-off``: ``install(app)`` with no sink (a client that only carries flow context and the publish
  time every message gets, for the workers' queue waits);
- ``ours-json``: ``install(app)`` with a JSON-lines file: TASK_SCHEDULE written per publish.

Each configuration runs in a fresh process. Timed: CPU time in chunks of 1,000 publishes, the fastest
chunk per run (another tenant's load only ever adds time), median over the rounds, configurations
interleaved. ``--instructions`` runs each under valgrind's cachegrind with 1,200 and 200 publishes after
the warm-up and reports the difference per publish (instructions do not move with the machine's load).
To compare two trees, run this file with ``PYTHONPATH`` pointing at each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

CONFIGS = ("plain", "ours-off", "ours-json")
WARMUP, CHUNK = 300, 1000


def _app(config: str, workdir: str) -> Any:
    from celery import Celery

    app = Celery("bench_publish", broker="memory://", set_as_current=True)
    app.conf.update(task_default_queue="bench")
    if config != "plain":
        import selinon_celery_trace

        sinks = [{"json": {"path": os.path.join(workdir, "trace.jsonl")}}] if config == "ours-json" else []
        app.conf.selinon_trace = sinks
        selinon_celery_trace.install(app)
    return app


def child(config: str, publishes: int, hook_only: bool) -> dict[str, Any]:
    """Publish ``publishes`` tasks after a warm-up; return the fastest chunk's CPU time per publish.

    ``hook_only``: call only what tracing adds to a publish, the ``before_task_publish`` receivers, with
    the arguments Celery gives them (a fresh headers dict each time), instead of ``send_task``.
    """
    from celery import signals

    workdir = tempfile.mkdtemp(prefix=f"bench-publish-{config}-")
    app = _app(config, workdir)
    args, kwargs = (7, "ann"), {"options": {"lang": "en", "pages": [1, 2, 3]}}
    headers, _properties, body, _sent = app.amqp.as_task_v2("t-0", "bench.work", args, kwargs)

    def hook() -> None:
        signals.before_task_publish.send(
            sender="bench.work", body=body, exchange="", routing_key="bench", headers=dict(headers)
        )

    with app.producer_or_acquire() as producer:

        def publish() -> None:
            app.send_task("bench.work", args, kwargs, producer=producer)

        step = hook if hook_only else publish
        for _ in range(WARMUP):
            step()
        chunks = []
        for start in range(0, publishes, CHUNK):
            count = min(CHUNK, publishes - start)
            begin = time.process_time()
            for _ in range(count):
                step()
            chunks.append((time.process_time() - begin) / count)
    return {"config": config, "us_per_publish": min(chunks) * 1e6}


def _run(command: list[str]) -> str:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    run = subprocess.run(command, capture_output=True, text=True, env=env)
    if run.returncode:
        raise RuntimeError(run.stderr[-2000:])
    return run.stdout if "--child" in command and "valgrind" not in command[0] else run.stderr


def timed(configs: list[str], rounds: int, publishes: int, extra: list[str]) -> dict[str, float]:
    """Median over ``rounds`` of each configuration's fastest chunk (µs per publish)."""
    samples: dict[str, list[float]] = {config: [] for config in configs}
    for round_number in range(rounds):
        for config in configs[round_number % len(configs) :] + configs[: round_number % len(configs)]:
            out = _run([sys.executable, __file__, "--child", config, "--publishes", str(publishes), *extra])
            samples[config].append(json.loads(out)["us_per_publish"])
    return {config: statistics.median(values) for config, values in samples.items()}


def instructions(configs: list[str], extra: list[str]) -> dict[str, float]:
    """Instructions per publish under cachegrind: (1,200 publishes - 200 publishes) / 1,000."""
    found = {}
    for config in configs:
        totals = []
        for publishes in (200, 1200):
            with tempfile.TemporaryDirectory() as out:
                stderr = _run(
                    [
                        "valgrind",
                        "--tool=cachegrind",
                        "--cache-sim=no",
                        f"--cachegrind-out-file={out}/cg.out",
                        sys.executable,
                        __file__,
                        "--child",
                        config,
                        "--publishes",
                        str(publishes),
                        *extra,
                    ]
                )
            match = re.search(r"== I\s+refs:\s+([\d,]+)", stderr)
            if match is None:
                raise RuntimeError(f"{config}: no instruction count in cachegrind's summary")
            totals.append(int(match.group(1).replace(",", "")))
        found[config] = (totals[1] - totals[0]) / 1000
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--publishes", type=int, default=10_000)
    parser.add_argument("--instructions", action="store_true", help="count instructions with cachegrind")
    parser.add_argument(
        "--hook-only", action="store_true", help="time the before_task_publish receivers, not send_task"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.publishes, args.hook_only)))
        return
    configs = args.configs.split(",")
    extra = ["--hook-only"] if args.hook_only else []
    if args.instructions:
        if shutil.which("valgrind") is None:
            sys.exit("valgrind is not installed (apt-get install valgrind)")
        counts = instructions(configs, extra)
        base = counts.get("plain")
        for config, count in counts.items():
            extra = f"  (+{count - base:,.0f} over plain)" if base is not None else ""
            print(f"{config:<12}{count:>12,.0f} instructions per publish{extra}")
        print(json.dumps({"instructions_per_publish": counts}))
        return
    medians = timed(configs, args.rounds, args.publishes, extra)
    base = medians.get("plain")
    for config, value in medians.items():
        extra = f"  (+{value - base:.2f} µs over plain)" if base is not None else ""
        print(f"{config:<12}{value:>8.2f} µs per publish{extra}")
    print(json.dumps({"us_per_publish": medians}))


if __name__ == "__main__":
    main()
