"""The Celery app of the end-to-end benchmark: configured from BENCH_* environment variables."""

from __future__ import annotations

import os
import time
from typing import Any

import redis
from celery import Celery
from setups import SETUPS

app = Celery("benchapp", broker=os.environ["BENCH_BROKER"])
app.conf.update(task_default_queue=os.environ["BENCH_QUEUE"], worker_prefetch_multiplier=16)
_queue = os.environ["BENCH_QUEUE"]
_redis = redis.Redis.from_url(os.environ["BENCH_BROKER"])


MARK = 100  # every MARK-th task to end records the count and the time: the progress marks


@app.task(name="bench.work", ignore_result=True)
def work(doc_id: int, user: str, options: dict[str, Any] | None = None) -> None:
    # Record first start and last end in Redis, so worker start-up and shutdown are not measured.
    now = time.time()
    pipe = _redis.pipeline(transaction=False)
    pipe.setnx(f"{_queue}:first", now)
    pipe.set(f"{_queue}:last", now)
    pipe.incr(f"{_queue}:done")
    done = pipe.execute()[-1]
    if done % MARK == 0:
        _redis.rpush(f"{_queue}:marks", f"{done} {now}")


def fill(count: int) -> None:
    """Publish ``count`` tasks (before the worker starts)."""
    with app.producer_or_acquire() as producer:
        for i in range(count):
            work.apply_async((i, "ann"), {"options": {"lang": "en", "pages": [1, 2, 3]}}, producer=producer)


if os.environ.get("BENCH_CONFIG"):
    SETUPS[os.environ["BENCH_CONFIG"]](app, os.environ.get("BENCH_WORKDIR", "."))
