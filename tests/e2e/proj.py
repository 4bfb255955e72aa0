"""The Celery app the end-to-end suite runs in a real ``celery worker`` subprocess.

Configured from environment variables only, as a user's app would be, and traced by configuration only:
``imports`` lists ``selinon_celery_trace.auto`` and ``selinon_trace`` names a JSON-lines file; no code
calls ``install``. The worker runs it with ``celery -A tests.e2e.proj worker``; the test process builds
an identical app with :func:`make_app` to publish the tasks.

Environment:

- ``E2E_BROKER_URL``, ``E2E_RESULT_BACKEND``: the broker and the (Redis) result backend.
- ``E2E_TRACE_FILE``: the JSON-lines file every process of the worker appends to.
- ``E2E_QUEUE_PREFIX``: prefixes every queue and exchange name, so runs sharing a broker never consume
  each other's messages.
- ``E2E_MAX_TASKS_PER_CHILD``: ``worker_max_tasks_per_child`` when set.
- ``E2E_BEAT_EVERY``: seconds; when set, ``beat_schedule`` has one interval entry, ``e2e-tick``, sending
  ``e2e.add(1, 1)`` that often (for ``celery beat``).

Queues (``p`` is the prefix):

- ``{p}one``: declared by name only; the default queue.
- ``{p}two``: not declared; created from ``task_routes`` (``task_create_missing_queues``).
- ``{p}topic-jobs``: bound to the topic exchange ``{p}jobs`` with ``jobs.#``; ``e2e.topic_job`` is
  published with the routing key ``jobs.pdf.render``.
- ``{p}direct-reports``: bound to the direct exchange ``{p}reports`` with ``reports.daily``;
  ``e2e.direct_job`` is published with that routing key.

The exchanges exist on both brokers (kombu's Redis transport emulates direct and topic exchanges).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from celery import Celery, Task, chain, chord, group
from celery.exceptions import Reject
from kombu import Exchange, Queue

from selinon_celery_trace import Dispatcher

__all__ = ["Layout", "app", "make_app"]

TOPIC_ROUTING_KEY = "jobs.pdf.render"
DIRECT_ROUTING_KEY = "reports.daily"
DEFAULT_PREFIX = "e2e."
BEAT_ENTRY = "e2e-tick"


class Layout:
    """The queue names of one run (see the module docstring)."""

    def __init__(self, prefix: str) -> None:
        self.one = f"{prefix}one"
        self.two = f"{prefix}two"
        self.topic = f"{prefix}topic-jobs"
        self.topic_exchange = f"{prefix}jobs"
        self.direct = f"{prefix}direct-reports"
        self.direct_exchange = f"{prefix}reports"

    @property
    def all(self) -> tuple[str, ...]:
        """Every queue the worker consumes from."""
        return (self.one, self.two, self.topic, self.direct)


def make_app(env: Mapping[str, str]) -> Celery:
    """Build the app from ``env`` (an ``os.environ``-like mapping)."""
    layout = Layout(env.get("E2E_QUEUE_PREFIX", DEFAULT_PREFIX))
    app = Celery("e2e")
    trace_file = env.get("E2E_TRACE_FILE")
    app.conf.update(
        broker_url=env.get("E2E_BROKER_URL"),
        result_backend=env.get("E2E_RESULT_BACKEND"),
        result_expires=600,
        broker_connection_retry_on_startup=True,
        imports=["selinon_celery_trace.auto"],
        selinon_trace=[{"json": {"path": trace_file}}] if trace_file else [],
        task_default_queue=layout.one,
        task_queues=(
            Queue(layout.one),
            Queue(layout.topic, Exchange(layout.topic_exchange, type="topic"), routing_key="jobs.#"),
            Queue(
                layout.direct,
                Exchange(layout.direct_exchange, type="direct"),
                routing_key=DIRECT_ROUTING_KEY,
            ),
        ),
        task_routes={
            "e2e.flaky": {"queue": layout.two},
            "e2e.slow_retry": {"queue": layout.two},
            "e2e.auto_flaky": {"queue": layout.two},
            "e2e.parent": {"queue": layout.two},
            "e2e.sleepy": {"queue": layout.two},
            "e2e.retry_then_hang": {"queue": layout.two},
            "e2e.discard": {"queue": layout.two},
            "e2e.nap": {"queue": layout.two},
            "e2e.topic_job": {"queue": layout.topic, "routing_key": TOPIC_ROUTING_KEY},
            "e2e.direct_job": {"queue": layout.direct, "routing_key": DIRECT_ROUTING_KEY},
        },
    )
    beat_every = env.get("E2E_BEAT_EVERY")
    if beat_every:
        app.conf.beat_schedule = {
            BEAT_ENTRY: {"task": "e2e.add", "schedule": float(beat_every), "args": (1, 1)},
        }
    max_tasks = env.get("E2E_MAX_TASKS_PER_CHILD")
    if max_tasks:
        app.conf.worker_max_tasks_per_child = int(max_tasks)

    @app.task(name="e2e.add", shared=False)
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="e2e.total", shared=False)
    def total(values: list[int]) -> int:
        return sum(values)

    @app.task(name="e2e.login", shared=False)
    def login(user: str, password: str) -> str:
        return f"{user} logged in"

    @app.task(name="e2e.flaky", shared=False, bind=True, max_retries=5)
    def flaky(self: Task, succeed_on: int) -> str:
        # countdown=0: the next attempt may start in the other child before this one's retry signal.
        if self.request.retries < succeed_on:
            raise self.retry(countdown=0)
        return f"done after {self.request.retries} retries"

    @app.task(name="e2e.slow_retry", shared=False, bind=True, max_retries=5)
    def slow_retry(self: Task, succeed_on: int) -> int:
        if self.request.retries < succeed_on:
            retry = self.retry(countdown=0, throw=False)  # the retry message is published now ...
            time.sleep(1.5)  # ... and its attempt starts in the other pool process meanwhile
            raise retry
        return int(self.request.retries)

    @app.task(
        name="e2e.auto_flaky",
        shared=False,
        bind=True,
        autoretry_for=(KeyError,),
        retry_kwargs={"countdown": 0.2},
        max_retries=3,
    )
    def auto_flaky(self: Task, succeed_on: int) -> int:
        if self.request.retries < succeed_on:
            raise KeyError(f"attempt {self.request.retries}")
        return int(self.request.retries)

    @app.task(name="e2e.boom", shared=False)
    def boom(message: str) -> None:
        raise ValueError(message)

    @app.task(name="e2e.parent", shared=False, bind=True)
    def parent(self: Task, child: str, args: list[Any]) -> str:
        # A task publishing a task: the child's parent is this task.
        return str(self.app.signature(child, args=args).delay().id)

    @app.task(name="e2e.sleepy", shared=False, time_limit=1)
    def sleepy(seconds: float) -> None:
        time.sleep(seconds)

    @app.task(name="e2e.retry_then_hang", shared=False, bind=True, time_limit=1)
    def retry_then_hang(self: Task) -> None:
        # The second attempt is killed by the hard time limit: its failure is reported by the main
        # process, from the retry message, where Celery names the task as its own parent.
        if self.request.retries < 1:
            raise self.retry(countdown=0)
        time.sleep(5)

    @app.task(name="e2e.discard", shared=False, ignore_result=True)
    def discard(value: str) -> dict[str, str]:
        return {"kept": value}

    @app.task(name="e2e.reject", shared=False)
    def reject(why: str) -> None:
        raise Reject(why, requeue=False)

    @app.task(name="e2e.reject_once", shared=False, acks_late=True)
    def reject_once(marker: str) -> str:
        # The first delivery puts its message back in the queue (only an unacknowledged message can
        # be requeued: acks_late); the redelivery succeeds.
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return "second delivery"
        raise Reject("try again", requeue=True)

    @app.task(name="e2e.die", shared=False)
    def die() -> None:
        os._exit(13)  # the pool process vanishes mid-task: WorkerLostError in the main process

    @app.task(name="e2e.nap", shared=False)
    def nap(seconds: float) -> int:
        time.sleep(seconds)
        return os.getpid()

    @app.task(name="e2e.topic_job", shared=False)
    def topic_job(document: str) -> str:
        return f"rendered {document}"

    @app.task(name="e2e.direct_job", shared=False)
    def direct_job(day: str) -> str:
        return f"report for {day}"

    # Canvas errbacks: Celery calls one taking (request, exc, traceback) inline, in the failed task's
    # process (no task events); one taking the failed task's id it publishes as a task of its own.
    @app.task(name="e2e.on_error_inline", shared=False)
    def on_error_inline(request: Any, exc: Any, traceback: Any) -> None:
        return None

    @app.task(name="e2e.on_error", shared=False)
    def on_error(failed_id: str) -> str:
        return f"cleaned up after {failed_id}"

    @app.task(name="e2e.fan_out", shared=False)
    def fan_out(count: int) -> str:
        # A flow's node that starts a chord: its members and body belong to the flow too.
        return str(chord(add.s(i, i) for i in range(count))(total.s()).id)

    @app.task(name="e2e.canvas_flow", shared=False, base=Dispatcher, bind=True, check_interval=0.2)
    def canvas_flow(self: Any, count: int) -> None:
        if self.flow.is_new:
            self.flow.schedule("fan", fan_out.s(count))

    @app.task(name="e2e.retry_once", shared=False, bind=True, max_retries=3)
    def retry_once(self: Task, value: int) -> int:
        if self.request.retries < 1:
            raise self.retry(countdown=0)
        return value

    @app.task(name="e2e.replaced", shared=False, bind=True)
    def replaced(self: Task, value: int, how: str) -> Any:
        # Task.replace: the replacement inherits this task's id (a chain's last step, a group's
        # accumulating chord body does).
        if how == "task":
            return self.replace(add.s(value, 1))
        if how == "chain":
            return self.replace(chain(add.s(value, 1), add.s(10)))
        if how == "group":
            return self.replace(group(add.s(value, i) for i in range(2)))
        if how == "boom":
            return self.replace(boom.s(f"replacement of {value}"))
        return value

    return app


app = make_app(os.environ)
