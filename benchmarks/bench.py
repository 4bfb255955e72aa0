"""Cost per task of tracing, side by side with the integrations users would otherwise pick.

    pip install -e '.[bench]'
    python benchmarks/bench.py                 # micro + end to end (Redis from SELINON_TEST_REDIS_URL,
                                               # else a private redis-server)
    python benchmarks/bench.py --micro-only --rounds 5 --tasks 20000

Micro: each sample is a fresh process that runs N tasks through Celery's real worker request path
in-process (a kombu message -> ``celery.worker.request.Request.execute`` -> the task tracer with its
signals), no broker, and measures the process's CPU time per task (all threads, so background exporters
count), in chunks of 1,000 tasks: a sample is its fastest chunk plus its share of the final exporter
flush. Another tenant's load on a shared VM only adds CPU time (cache pollution, frequency, stolen
cycles charged to us), in bursts: the fastest chunk is the least disturbed estimate, as timeit advises
(on this project's VM the median chunk of one configuration moved ±15 % between samples, the fastest
±2 %). Configurations run interleaved (A B C, B C A, ...) so machine drift hits all alike.
End to end: a real ``celery worker`` (solo, and prefork with 2 processes) drains a pre-filled Redis queue;
the tasks themselves record first start and last end, so worker start-up is not counted. Each sample
also reads the CPU time (user + system, from /proc) of the worker's processes between the first tenth of
the tasks and the last one: ``cpu us/task``, and ``capacity``, plain's CPU per task divided by the
configuration's (the share of plain's throughput the same CPUs sustain when the worker is CPU-bound).
Every hundredth task also records the count and the time, and ``fastest`` is the highest throughput
over any quarter of the tasks: the stretch least disturbed by other load, as the micro benchmark's
fastest chunk. The ratios are paired: each round's sample against plain's of the same round, the median
over rounds (``range``: the lowest and highest of them), so drift between rounds cancels. Each round
starts with the next configuration. All of it moves with other load on a shared machine (add
``ours-off``, which costs nothing measurable, to see by how much): compare several runs.

Side by side (``--duel-rounds``): plain's worker and a configuration's drain their own queues at the
same time, on the same CPUs, so the machine's other load hits both at the same moments; the ratio of
their throughputs over the stretch both ran (from the progress marks) is the share of plain's
throughput the configuration keeps. On this project's VM a sample moves by about ±5 % this way, against
±15 % for the one-after-the-other samples. The worker started first alternates between rounds.

Prints tables (median, spread, overhead and ratios against ``plain`` and against ``otel``, events emitted
per task) and ends with one machine-readable JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from setups import CONFIGS, SETUPS  # noqa: E402

WARMUP = 500
CHUNK = 1000  # tasks per timed chunk of a micro sample


# -- one micro sample (runs in its own process) ----------------------------------------------------


def micro_sample(config: str, tasks: int) -> dict[str, Any]:
    """Time ``tasks`` executions of a small task through the worker's request path, in this process."""
    from celery import Celery
    from celery.worker.request import Request
    from kombu.message import Message
    from kombu.serialization import dumps

    workdir = tempfile.mkdtemp(prefix=f"bench-{config}-")
    app = Celery("bench", broker="memory://", set_as_current=True)
    app.conf.update(worker_hijack_root_logger=False)

    @app.task(name="bench.work")
    def work(doc_id: int, user: str, options: dict[str, Any] | None = None) -> None:
        return None

    del work

    count = SETUPS[config](app, workdir)
    app.finalize()
    task = app.tasks["bench.work"]  # the registered instance, as the worker uses (not the lazy proxy)

    def message(i: int) -> Message:
        args, kwargs = (i, "ann"), {"options": {"lang": "en", "pages": [1, 2, 3]}}
        headers, properties, body, _ = app.amqp.as_task_v2(f"task-{i}", "bench.work", args, kwargs)
        content_type, encoding, payload = dumps(body, serializer="json")
        return Message(
            body=payload,
            content_type=content_type,
            content_encoding=encoding,
            headers=headers,
            properties=properties,
            delivery_info={"exchange": "", "routing_key": "celery"},
        )

    messages = [message(i) for i in range(WARMUP + tasks)]
    for msg in messages[:WARMUP]:
        Request(msg, app=app, task=task, hostname="bench@host").execute()
    # CPU time of this process (all its threads: OpenTelemetry's and Sentry's background workers are
    # charged too). Timed in chunks: the fastest chunk is the one a noisy neighbour disturbed least
    # (see the module's docstring), and the final flush of background exporters is added, shared over
    # all tasks (their work is part of the cost).
    chunks: list[float] = []
    for start in range(WARMUP, WARMUP + tasks, CHUNK):
        batch = messages[start : start + CHUNK]
        begin = time.process_time()
        for msg in batch:
            Request(msg, app=app, task=task, hostname="bench@host").execute()
        chunks.append((time.process_time() - begin) / len(batch))
    begin = time.process_time()
    emitted = count()
    flushed = time.process_time() - begin
    return {
        "config": config,
        "us_per_task": (min(chunks) + flushed / tasks) * 1e6,
        "emitted_per_task": emitted / (WARMUP + tasks),
    }


# -- end to end (a real worker on Redis) -----------------------------------------------------------


class _Drain:
    """One configuration's Redis queue, pre-filled with tasks, and the real worker that drains it."""

    def __init__(self, config: str, pool: str, tasks: int, redis_url: str) -> None:
        import redis

        self.config, self.pool, self.tasks = config, pool, tasks
        self.workdir = tempfile.mkdtemp(prefix=f"bench-e2e-{config}-")
        self.queue = f"bench-{os.getpid()}-{time.monotonic_ns()}"
        self.env = {
            **os.environ,
            "BENCH_CONFIG": config,
            "BENCH_BROKER": redis_url,
            "BENCH_WORKDIR": self.workdir,
            "BENCH_QUEUE": self.queue,
            "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        self.client = redis.Redis.from_url(redis_url)
        self.keys = [f"{self.queue}:{key}" for key in ("done", "first", "last", "marks")]
        self.client.delete(*self.keys)
        fill = subprocess.run(
            [sys.executable, "-c", f"import benchapp; benchapp.fill({tasks})"],
            env=self.env,
            capture_output=True,
            text=True,
        )
        if fill.returncode:
            raise RuntimeError(fill.stderr)
        self.worker: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(self.workdir, "worker.log")
        self.progress: list[tuple[float, float]] = []  # (tasks done, time) marks, read by finish()

    def start(self) -> None:
        cmd = [sys.executable, "-m", "celery", "-A", "benchapp", "worker", "-P", self.pool, "-Q", self.queue]
        cmd += ["-c", "2"] if self.pool == "prefork" else []
        cmd += ["--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        cmd += ["-n", f"{self.queue}@%h"]
        with open(self.log_path, "wb") as log:
            self.worker = subprocess.Popen(
                cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
            )

    def done(self) -> int:
        """Tasks finished so far; raises if the worker stopped before the end."""
        assert self.worker is not None
        count = int(self.client.get(f"{self.queue}:done") or 0)
        if count < self.tasks and self.worker.poll() is not None:
            raise RuntimeError(f"worker stopped; see {self.log_path}")
        return count

    def finish(self) -> dict[str, Any]:
        """Stop the worker; its throughput figures and events per task; the queue's keys deleted."""
        if self.worker is not None:
            self.worker.terminate()
            self.worker.wait(60)
        get = self.client.get
        first, last = float(get(f"{self.queue}:first") or 0), float(get(f"{self.queue}:last") or 0)
        marks = self.client.lrange(f"{self.queue}:marks", 0, -1)
        progress = sorted((float(done), float(when)) for done, when in (mark.split() for mark in marks))
        self.progress = progress
        trace = Path(self.workdir, "trace.jsonl")
        # TASK_* lines only: a worker's own events (WORKER_ONLINE / OFFLINE) are not per task.
        emitted = sum(b'"TASK_' in line[:16] for line in trace.open("rb")) if trace.exists() else 0
        self.client.delete(*self.keys, self.queue)
        return {
            "config": self.config,
            "pool": self.pool,
            "tasks_per_s": (self.tasks - 1) / (last - first),
            "best_tasks_per_s": _fastest_window(progress, max(self.tasks // 4, 200)),
            "emitted_per_task": emitted / self.tasks,
        }


def e2e_sample(config: str, pool: str, tasks: int, redis_url: str) -> dict[str, Any]:
    """Pre-fill a Redis queue with ``tasks`` tasks and time a real worker draining it."""
    drain = _Drain(config, pool, tasks, redis_url)
    # CPU of the worker's processes between the first tenth of the tasks and the last one: start-up
    # excluded, and waiting on other processes not counted (a busy neighbour still slows the CPU).
    cpu: list[tuple[int, float]] = []
    try:
        drain.start()
        assert drain.worker is not None
        deadline = time.monotonic() + 300
        while True:
            done = drain.done()
            if (not cpu and done >= tasks // 10) or done >= tasks:
                cpu.append((done, _tree_cpu(drain.worker.pid)))
            if done >= tasks:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker timed out; see {drain.log_path}")
            time.sleep(0.02)
    finally:
        result = drain.finish()
    result["cpu_us_per_task"] = (
        (cpu[-1][1] - cpu[0][1]) / (cpu[-1][0] - cpu[0][0]) * 1e6 if cpu[-1][0] > cpu[0][0] else float("nan")
    )
    return result


def duel_sample(config: str, pool: str, tasks: int, redis_url: str, config_first: bool) -> dict[str, Any]:
    """``plain`` and ``config`` workers draining their own queues at the same time, on the same CPUs.

    Both run through the same moments of the machine's other load, so it cancels out of the ratio of
    their throughputs over the stretch where both were running (read off their progress marks). When
    the CPUs are the limit, that ratio is the share of plain's throughput ``config`` keeps.
    """
    drains = [_Drain("plain", pool, tasks, redis_url), _Drain(config, pool, tasks, redis_url)]
    results: list[dict[str, Any]] = []
    try:
        for drain in reversed(drains) if config_first else drains:  # the callers alternate who starts
            drain.start()
        deadline = time.monotonic() + 300
        while any(drain.done() < tasks for drain in drains):
            if time.monotonic() > deadline:
                raise RuntimeError("workers timed out")
            time.sleep(0.05)
    finally:
        results = [drain.finish() for drain in drains]
    plain, other = (drain.progress for drain in drains)
    begin = max(plain[0][1], other[0][1])
    end = min(plain[-1][1], other[-1][1])
    overlapped = end - begin >= MIN_OVERLAP_S
    if overlapped:
        rates = [(_done_at(marks, end) - _done_at(marks, begin)) / (end - begin) for marks in (plain, other)]
    else:
        # One worker was done before the other got going (a slow start on a loaded machine, or few
        # tasks): no shared stretch to compare over, so each worker's own run is used, and said so.
        rates = [(marks[-1][0] - marks[0][0]) / (marks[-1][1] - marks[0][1]) for marks in (plain, other)]
    return {
        "config": config,
        "pool": pool,
        "overlap_s": end - begin,
        "overlapped": overlapped,
        "plain_tasks_per_s": rates[0],
        "tasks_per_s": rates[1],
        "ratio_plain": rates[1] / rates[0],
        "emitted_per_task": results[1]["emitted_per_task"],
    }


MIN_OVERLAP_S: Final = 0.2
"""The shortest stretch both workers of a side-by-side sample must have run together to be compared there."""


def _done_at(progress: list[tuple[float, float]], when: float) -> float:
    """Tasks done at time ``when``, interpolated between the (done, time) marks around it."""
    for (done0, time0), (done1, time1) in itertools.pairwise(progress):
        if time0 <= when <= time1:
            return done0 + (done1 - done0) * (when - time0) / (time1 - time0) if time1 > time0 else done1
    return progress[-1][0] if when > progress[-1][1] else progress[0][0]


def _fastest_window(progress: list[tuple[float, ...]], window: int) -> float:
    """The highest throughput over ``window`` consecutive tasks, from the tasks' progress marks.

    ``progress`` holds (tasks done, time) pairs the tasks recorded. Like the micro benchmark's fastest
    chunk, the stretch least disturbed by other load on a shared VM; a configuration's own periodic
    costs (a batch export, a flush) recur within any window this long.
    """
    marks = sorted(progress)
    rates = []
    for i, (start_count, start_time) in enumerate(marks):
        for end_count, end_time in marks[i + 1 :]:
            if end_count - start_count >= window:
                rates.append((end_count - start_count) / (end_time - start_time))
                break
    return max(rates, default=float("nan"))


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user and system) used so far by process ``pid`` and its child processes (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        # After the command name: state, ppid, ..., utime (14th field of stat), stime, cutime, cstime.
        if int(entry) == pid or int(fields[1]) == pid:
            total += sum(int(value) for value in fields[11:15]) / tick
    return total


# -- driver ----------------------------------------------------------------------------------------


def _run_child(args: list[str]) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"{args}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _spread(values: list[float], digits: int = 1) -> str:
    return f"{min(values):.{digits}f}..{max(values):.{digits}f}"


def _rotated(configs: list[str], round_number: int) -> list[str]:
    # Each round starts one configuration later, so none always runs first (or right after another).
    shift = round_number % len(configs)
    return configs[shift:] + configs[:shift]


def _pairs(runs: list[dict[str, Any]], bases: list[dict[str, Any]], key: str) -> list[float]:
    # Each round's sample against the base's sample of the same round (they ran a minute apart at most):
    # the machine's drift between rounds cancels out, which a ratio of medians does not do.
    return [run[key] / base[key] for run, base in zip(runs, bases, strict=True)]


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def micro(configs: list[str], rounds: int, tasks: int) -> dict[str, dict[str, Any]]:
    """Run interleaved rounds of micro samples and print the table."""
    samples: dict[str, list[dict[str, Any]]] = {c: [] for c in configs}
    for r in range(rounds):
        for config in _rotated(configs, r):
            samples[config].append(_run_child(["--child-micro", config, "--tasks", str(tasks)]))
        print(f"  round {r + 1}/{rounds} done", file=sys.stderr)
    result: dict[str, dict[str, Any]] = {}
    for config, runs in samples.items():
        values = [run["us_per_task"] for run in runs]
        result[config] = {
            "median_us": statistics.median(values),
            "spread_us": _spread(values),
            "emitted_per_task": _median(runs, "emitted_per_task"),
        }
    plain = result["plain"]["median_us"] if "plain" in result else None
    otel_overhead = result["otel"]["median_us"] - plain if plain is not None and "otel" in result else None
    print(f"\nMicro: {tasks} tasks per sample, {rounds} interleaved rounds, worker request path in-process,")
    print("CPU microseconds per task")
    header = (
        f"{'config':<14}{'median us':>10}{'spread':>16}{'overhead us':>13}{'x plain':>9}"
        f"{'/ otel ovh':>11}{'emitted/task':>14}"
    )
    print(header)
    print("-" * len(header))
    for config, row in result.items():
        overhead = row["median_us"] - plain if plain is not None else float("nan")
        row["overhead_us"] = overhead
        row["ratio_plain"] = row["median_us"] / plain if plain else float("nan")
        row["ratio_otel_overhead"] = overhead / otel_overhead if otel_overhead else float("nan")
        print(
            f"{config:<14}{row['median_us']:>10.2f}{row['spread_us']:>16}{overhead:>13.2f}"
            f"{row['ratio_plain']:>9.3f}{row['ratio_otel_overhead']:>11.3f}{row['emitted_per_task']:>14.2f}"
        )
    return result


def _worker_rounds(
    kind: str, configs: list[str], pools: list[str], rounds: int, tasks: int, redis_url: str
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """``rounds`` rounds of ``kind`` samples (``e2e`` or ``duel``) per pool and configuration.

    Each round starts with the next configuration; in odd rounds a duel starts the configuration's
    worker before plain's.
    """
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {(c, p): [] for p in pools for c in configs}
    for r in range(rounds):
        for pool in pools:
            for config in _rotated(configs, r):
                args = [
                    f"--child-{kind}",
                    config,
                    "--pool",
                    pool,
                    "--tasks",
                    str(tasks),
                    "--redis",
                    redis_url,
                ]
                samples[(config, pool)].append(_run_child(args + (["--odd-round"] if r % 2 else [])))
        print(f"  {kind} round {r + 1}/{rounds} done", file=sys.stderr)
    return samples


def end_to_end(
    configs: list[str], pools: list[str], rounds: int, tasks: int, redis_url: str
) -> dict[str, Any]:
    """Run interleaved end-to-end samples and print the table."""
    samples = _worker_rounds("e2e", configs, pools, rounds, tasks, redis_url)
    print(
        f"\nEnd to end: real `celery worker` draining {tasks} tasks from Redis, {rounds} interleaved rounds"
    )
    header = (
        f"{'pool':<9}{'config':<14}{'tasks/s':>8}{'spread':>14}{'x plain':>8}{'range':>11}"
        f"{'fastest':>8}{'x plain':>8}{'range':>11}{'cpu us':>7}{'capacity':>9}{'events':>7}"
    )
    print(header)
    print("-" * len(header))
    result: dict[str, Any] = {}
    for pool in pools:
        plain = samples.get(("plain", pool))
        for config in configs:
            runs = samples[(config, pool)]
            values = [s["tasks_per_s"] for s in runs]
            median = statistics.median(values)
            cpu = _median(runs, "cpu_us_per_task")
            pairs = _pairs(runs, plain, "tasks_per_s") if plain else []
            best_pairs = _pairs(runs, plain, "best_tasks_per_s") if plain else []
            best = _median(runs, "best_tasks_per_s")
            row = {
                "median_tasks_per_s": median,
                "spread": _spread(values, 0),
                # Throughput against plain's in the same round, the median over rounds.
                "ratio_plain": statistics.median(pairs) if pairs else float("nan"),
                "ratio_plain_spread": _spread(pairs, 2) if pairs else "",
                # The same over each sample's fastest quarter of the tasks (see _fastest_window).
                "median_best_tasks_per_s": best,
                "best_ratio_plain": statistics.median(best_pairs) if best_pairs else float("nan"),
                "best_ratio_plain_spread": _spread(best_pairs, 2) if best_pairs else "",
                "cpu_us_per_task": cpu,
                # What the same CPUs can run, relative to plain: plain's CPU per task / this one's.
                "capacity_plain": (
                    statistics.median(_pairs(plain, runs, "cpu_us_per_task")) if plain else float("nan")
                ),
                "emitted_per_task": _median(runs, "emitted_per_task"),
            }
            result[f"{pool}/{config}"] = row
            print(
                f"{pool:<9}{config:<14}{median:>8.0f}{row['spread']:>14}{row['ratio_plain']:>8.3f}"
                f"{row['ratio_plain_spread']:>11}{best:>8.0f}{row['best_ratio_plain']:>8.3f}"
                f"{row['best_ratio_plain_spread']:>11}{cpu:>7.0f}{row['capacity_plain']:>9.3f}"
                f"{row['emitted_per_task']:>7.2f}"
            )
    return result


def duels(configs: list[str], pools: list[str], rounds: int, tasks: int, redis_url: str) -> dict[str, Any]:
    """Run ``rounds`` side-by-side samples (plain and each configuration at once) and print the table."""
    samples = _worker_rounds("duel", configs, pools, rounds, tasks, redis_url)
    print(f"\nSide by side: plain's worker and the configuration's at the same time, {tasks} tasks each,")
    print(f"{rounds} rounds; throughput over the stretch both ran")
    header = (
        f"{'pool':<9}{'config':<14}{'x plain':>9}{'range':>12}{'tasks/s':>9}{'plain':>7}{'overlap s':>11}"
    )
    print(header)
    print("-" * len(header))
    result: dict[str, Any] = {}
    for (config, pool), runs in samples.items():
        ratios = [run["ratio_plain"] for run in runs]
        row = {
            "ratio_plain": statistics.median(ratios),
            "ratio_plain_spread": _spread(ratios, 2),
            "median_tasks_per_s": _median(runs, "tasks_per_s"),
            "median_plain_tasks_per_s": _median(runs, "plain_tasks_per_s"),
            "median_overlap_s": _median(runs, "overlap_s"),
            "emitted_per_task": _median(runs, "emitted_per_task"),
        }
        result[f"{pool}/{config}"] = row
        print(
            f"{pool:<9}{config:<14}{row['ratio_plain']:>9.3f}{row['ratio_plain_spread']:>12}"
            f"{row['median_tasks_per_s']:>9.0f}{row['median_plain_tasks_per_s']:>7.0f}"
            f"{row['median_overlap_s']:>11.1f}"
        )
    return result


def _redis_url() -> tuple[str, subprocess.Popen[bytes] | None]:
    url = os.environ.get("SELINON_TEST_REDIS_URL")
    if url:
        return url, None
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    time.sleep(0.5)
    return f"redis://127.0.0.1:{port}/0", server


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated configurations")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=20000, help="tasks per micro sample")
    parser.add_argument("--e2e-tasks", type=int, default=3000, help="tasks per end-to-end sample")
    parser.add_argument("--e2e-rounds", type=int, default=3, help="end-to-end rounds (0: none)")
    parser.add_argument("--e2e-configs", default="plain,ours-json")
    parser.add_argument("--e2e-pools", default="solo,prefork", help="comma-separated worker pools")
    parser.add_argument("--duel-rounds", type=int, default=3, help="side-by-side rounds (0: none)")
    parser.add_argument("--duel-configs", default="ours-json", help="run side by side with plain")
    parser.add_argument("--micro-only", action="store_true")
    parser.add_argument("--e2e-only", action="store_true")
    parser.add_argument("--child-micro", help=argparse.SUPPRESS)
    parser.add_argument("--child-e2e", help=argparse.SUPPRESS)
    parser.add_argument("--child-duel", help=argparse.SUPPRESS)
    parser.add_argument("--odd-round", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pool", help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child_micro:
        print(json.dumps(micro_sample(args.child_micro, args.tasks)))
        return
    if args.child_e2e:
        print(json.dumps(e2e_sample(args.child_e2e, args.pool, args.tasks, args.redis)))
        return
    if args.child_duel:
        print(json.dumps(duel_sample(args.child_duel, args.pool, args.tasks, args.redis, args.odd_round)))
        return

    report: dict[str, Any] = {"python": sys.version.split()[0]}
    import celery

    from selinon_celery_trace.core.fast import ENCODER

    report["celery"] = celery.__version__
    report["encoder"] = ENCODER
    if not args.e2e_only:
        report["micro"] = micro(args.configs.split(","), args.rounds, args.tasks)
    if not args.micro_only:
        url, server = _redis_url()
        try:
            pools = args.e2e_pools.split(",")
            if args.e2e_rounds > 0:
                configs = args.e2e_configs.split(",")
                report["e2e"] = end_to_end(configs, pools, args.e2e_rounds, args.e2e_tasks, url)
            if args.duel_rounds > 0:
                configs = args.duel_configs.split(",")
                report["side_by_side"] = duels(configs, pools, args.duel_rounds, args.e2e_tasks, url)
        finally:
            if server is not None:
                server.terminate()
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
