"""In-process worker fixtures (Celery's ``celery.contrib.pytest``), with tracing installed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from kombu import Exchange, Queue

import selinon_celery_trace
from selinon_celery_trace.testing import CapturedEvents, capture_events

from . import apps


@pytest.fixture(scope="session")
def celery_config() -> dict[str, Any]:
    """A memory broker, an in-memory result backend and two routed queues."""
    return {
        "broker_url": "memory://",
        # The worker thread notices the stop request at its next poll: keep teardown fast.
        "broker_transport_options": {"polling_interval": 0.05},
        "result_backend": "cache+memory://",
        "task_queues": (
            Queue("celery", Exchange("celery"), routing_key="celery"),
            Queue("reports", Exchange("work", type="direct"), routing_key="work.reports"),
        ),
        "task_routes": {"tests.report": {"queue": "reports"}},
        "selinon_trace": [],
    }


@pytest.fixture(scope="session")
def tasks(celery_session_app: Any) -> SimpleNamespace:
    """The plain tasks, on the session's app."""
    return apps.register_tasks(celery_session_app)


@pytest.fixture(scope="session")
def flows(celery_session_app: Any) -> SimpleNamespace:
    """The flows, on the session's app."""
    return apps.register_flows(celery_session_app)


@pytest.fixture(scope="session")
def worker(celery_session_app: Any, tasks: SimpleNamespace, flows: SimpleNamespace) -> Iterator[Any]:
    """The session's in-process worker, started after every task is registered and tracing installed.

    Installed as users do, before the worker starts: the worker's node name is learnt at start.
    """
    selinon_celery_trace.install(celery_session_app)
    from celery.contrib.testing import worker as testing_worker

    with testing_worker.start_worker(
        celery_session_app, pool="solo", queues=("celery", "reports"), perform_ping_check=False
    ) as started:
        yield started


@pytest.fixture
def traced(celery_session_app: Any) -> Iterator[CapturedEvents]:
    """Install tracing on the session's app and capture every event it emits."""
    selinon_celery_trace.install(celery_session_app)
    with capture_events() as events:
        yield events
    selinon_celery_trace.uninstall(celery_session_app)


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``condition`` until it is truthy (terminal events follow the stored result closely)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.01)
