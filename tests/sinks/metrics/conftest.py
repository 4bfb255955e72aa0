"""Fixtures of the metrics suite: real prefork workers on Redis, each serving ``/metrics`` on its port."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:  # plain `pytest` (tox) does not put the checkout on sys.path
    sys.path.insert(0, str(REPO_ROOT))

from tests import brokers  # noqa: E402
from tests.e2e.support import Broker, running  # noqa: E402
from tests.sinks.metrics import proj  # noqa: E402
from tests.sinks.otel.workers import AppWorker  # noqa: E402


def free_port() -> int:
    """A local port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def metrics_broker() -> Broker:
    """Redis (``SELINON_TEST_REDIS_URL``, else a private ``redis-server``) as broker and result backend."""
    url = brokers.redis_url()
    return Broker("redis", url, url)


@pytest.fixture(scope="module", params=["redis", "amqp"])
def any_broker(request: pytest.FixtureRequest) -> Broker:
    """Redis, then RabbitMQ (``SELINON_TEST_AMQP_URL``) as broker; results in Redis."""
    url = brokers.redis_url()
    if request.param == "redis":
        return Broker("redis", url, url)
    return Broker("amqp", brokers.amqp_url(), url)


def _worker(broker: Broker, factory: pytest.TempPathFactory, **env: str) -> Iterator[AppWorker]:
    env["METRICS_E2E_PORT"] = str(free_port())
    with running(AppWorker(broker, factory.mktemp("metrics-worker"), env, proj)) as worker:
        worker.metrics_url = f"http://127.0.0.1:{env['METRICS_E2E_PORT']}/metrics"  # type: ignore[attr-defined]
        yield worker


@pytest.fixture(scope="module")
def metrics_worker(metrics_broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppWorker]:
    """A prefork worker (concurrency 2) with the metrics sink serving on its own port."""
    yield from _worker(metrics_broker, tmp_path_factory)


@pytest.fixture(scope="module")
def recycling_worker(metrics_broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppWorker]:
    """The same with ``worker_max_tasks_per_child=1``: each task in a pool process that then exits."""
    yield from _worker(metrics_broker, tmp_path_factory, E2E_MAX_TASKS_PER_CHILD="1")


@pytest.fixture(scope="module")
def sampling_worker(any_broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppWorker]:
    """A prefork worker whose metrics sink samples queue lengths every 0.3 s, its values in a known dir."""
    directory = tmp_path_factory.mktemp("metrics-dir")
    yield from _worker(
        any_broker, tmp_path_factory, METRICS_E2E_DIR=str(directory), METRICS_E2E_QUEUE_INTERVAL="0.3"
    )
