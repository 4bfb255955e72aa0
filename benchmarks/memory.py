"""The tracer's own memory while a worker runs many tasks, failures and retries included.

    python benchmarks/memory.py [--tasks 10000]

Runs the tasks through Celery's real worker request path in-process (as ``bench.py``'s micro mode),
with the JSON-lines and logging sinks, a third of the tasks failing and a third retrying once, and
prints, at checkpoints, the memory allocated by this package's own code (tracemalloc, filtered to
``selinon_celery_trace``) and the size of every per-process structure it keeps. Flat numbers mean no
per-task state is left behind. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import tempfile
import tracemalloc
from typing import Any

import selinon_celery_trace

# The package's own files: its directory, not any path holding its name (a checkout called
# selinon_celery_trace holds the virtualenv with Celery and kombu too).
_OURS = os.path.join(os.path.dirname(os.path.abspath(selinon_celery_trace.__file__)), "*")


def run(tasks: int, checkpoints: list[int]) -> dict[str, Any]:
    """Run ``tasks`` mixed tasks and return the measurements at each checkpoint."""
    from celery import Celery

    import selinon_celery_trace

    workdir = tempfile.mkdtemp(prefix="bench-memory-")
    app = Celery("memory", broker="memory://", set_as_current=True)
    app.conf.update(
        selinon_trace=[{"json": {"path": os.path.join(workdir, "trace.jsonl")}}, {"logging": True}],
        task_default_queue="memory",
    )

    @app.task(name="memory.ok", shared=False)
    def ok(i: int, meta: dict[str, Any]) -> int:
        return i

    @app.task(name="memory.fail", shared=False)
    def fail(i: int, meta: dict[str, Any]) -> None:
        raise ValueError(f"task {i} failed")

    @app.task(name="memory.retry", bind=True, shared=False, max_retries=1)
    def retry(self: Any, i: int, meta: dict[str, Any]) -> int:
        if not self.request.retries:
            raise self.retry(countdown=60, exc=KeyError(i))
        return i

    # The logging sink writes to a file, not the console; restored when done (a test runs this too).
    logger, celery_logger = logging.getLogger("selinon_celery_trace"), logging.getLogger("celery")
    saved = (logger.level, logger.propagate, celery_logger.level)
    handler = logging.FileHandler(os.path.join(workdir, "trace.log"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    celery_logger.setLevel(logging.CRITICAL)
    try:
        selinon_celery_trace.install(app)
        return _measure(app, workdir, tasks, checkpoints)
    finally:
        selinon_celery_trace.uninstall(app)
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        celery_logger.setLevel(saved[2])


def _facts(task: Any) -> Any:
    """The facts the tracer wrapper of ``task`` keeps (its consumed-queue memo among them)."""
    return task.__trace__.facts


def _measure(app: Any, workdir: str, tasks: int, checkpoints: list[int]) -> dict[str, Any]:
    from celery.worker.request import Request
    from kombu.message import Message
    from kombu.serialization import dumps

    from selinon_celery_trace import Trace
    from selinon_celery_trace.celery.execution import _attempts
    from selinon_celery_trace.celery.runtime import runtime

    app.finalize()
    names = ["memory.ok", "memory.fail", "memory.retry"]

    def execute(i: int) -> None:
        name = names[i % 3]
        args, kwargs = (i,), {"meta": {"user": f"user-{i}", "password": "hunter2", "tags": [i, i + 1]}}
        headers, properties, body, _ = app.amqp.as_task_v2(f"memory-{i}", name, args, kwargs)
        if name == "memory.retry" and i % 2:
            headers["retries"] = 1  # the retried attempt, which succeeds
        content_type, encoding, payload = dumps(body, serializer="json")
        message = Message(
            body=payload,
            content_type=content_type,
            content_encoding=encoding,
            headers=headers,
            properties=properties,
            delivery_info={"exchange": "", "routing_key": "memory"},
        )
        request = Request(message, app=app, task=app.tasks[name], hostname="memory@host")
        request.execute()

    for i in range(300):  # warm caches: memoised queue names, key verdicts, imports
        execute(i)
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("memory")
    gc.collect()
    tracemalloc.start(1)  # the allocating frame is enough to attribute memory to this package
    baseline = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, _OURS)])
    base_size = sum(stat.size for stat in baseline.statistics("filename"))
    rows = []
    done = 0
    for checkpoint in checkpoints:
        while done < checkpoint:
            execute(300 + done)
            done += 1
        # Retried attempts publish their next message to the in-process broker, which nothing consumes
        # here; those messages (and the headers in them) belong to the broker, not to the tracer.
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge("memory")
        gc.collect()
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, _OURS)])
        size = sum(stat.size for stat in snapshot.statistics("filename"))
        rows.append(
            {
                "tasks": checkpoint,
                "tracer_bytes": size - base_size,
                "attempt_stack": len(_attempts.stack),
                "queue_memo": len(runtime._queues),
                "route_memos": sum(len(_facts(app.tasks[name]).queues) for name in names),
                "key_verdicts": len(runtime.policy._verdicts),
                "sinks": len(Trace.sinks()),
                "swallowed_errors": sum(Trace.errors().values()),
            }
        )
    tracemalloc.stop()
    with open(os.path.join(workdir, "trace.jsonl"), "rb") as handle:
        lines = sum(1 for _ in handle)
    return {"checkpoints": rows, "trace_lines": lines, "workdir": workdir}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args()
    checkpoints = sorted({max(1, args.tasks // 10), args.tasks // 2, args.tasks})
    result = run(args.tasks, checkpoints)
    print(
        f"{'tasks':>7}{'tracer bytes':>14}{'attempts':>10}{'queue memo':>12}{'route memo':>12}"
        f"{'key memo':>10}"
    )
    for row in result["checkpoints"]:
        print(
            f"{row['tasks']:>7}{row['tracer_bytes']:>14}{row['attempt_stack']:>10}{row['queue_memo']:>12}"
            f"{row['route_memos']:>12}{row['key_verdicts']:>10}"
        )
    print(f"trace lines written: {result['trace_lines']}")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
