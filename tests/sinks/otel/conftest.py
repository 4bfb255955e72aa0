"""Fixtures of the OpenTelemetry suite: the local OTLP/HTTP collector and real prefork workers on Redis."""

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
from tests.sinks.otel import proj  # noqa: E402
from tests.sinks.otel.collector import STALLED_EXPORT_TIMEOUT, Collector  # noqa: E402
from tests.sinks.otel.workers import AppWorker  # noqa: E402


@pytest.fixture(scope="session")
def collector() -> Iterator[Collector]:
    """One local OTLP/HTTP endpoint for the session; tests find their spans by their own ids."""
    server = Collector().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def otel_broker() -> Broker:
    """Redis (``SELINON_TEST_REDIS_URL``, else a private ``redis-server``) as broker and result backend."""
    url = brokers.redis_url()
    return Broker("redis", url, url)


def _worker(
    broker: Broker, factory: pytest.TempPathFactory, endpoint: str, mode: str, **env: str
) -> Iterator[AppWorker]:
    env.update(OTEL_E2E_MODE=mode, OTEL_E2E_ENDPOINT=endpoint)
    with running(AppWorker(broker, factory.mktemp(f"otel-{mode}"), env, proj)) as worker:
        yield worker


@pytest.fixture(scope="module")
def sink_worker(
    otel_broker: Broker, tmp_path_factory: pytest.TempPathFactory, collector: Collector
) -> Iterator[AppWorker]:
    """A prefork worker whose only OpenTelemetry setup is our sink (``{"otel": {"endpoint": ...}}``)."""
    yield from _worker(otel_broker, tmp_path_factory, collector.endpoint, "sink")


@pytest.fixture(scope="module")
def recycling_worker(
    otel_broker: Broker, tmp_path_factory: pytest.TempPathFactory, collector: Collector
) -> Iterator[AppWorker]:
    """The same with ``worker_max_tasks_per_child=1``: each task in a pool process that then exits."""
    yield from _worker(otel_broker, tmp_path_factory, collector.endpoint, "sink", E2E_MAX_TASKS_PER_CHILD="1")


@pytest.fixture(scope="module")
def dead_collector() -> str:
    """An OTLP endpoint where nothing listens: every connection is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def dead_collector_recycling_worker(
    otel_broker: Broker, tmp_path_factory: pytest.TempPathFactory, dead_collector: str
) -> Iterator[AppWorker]:
    """``worker_max_tasks_per_child=1`` exporting to a dead collector; each pool process logs its exit."""
    exits = tmp_path_factory.mktemp("otel-exits") / "exits.txt"
    env = {"E2E_MAX_TASKS_PER_CHILD": "1", "OTEL_E2E_EXIT_LOG": str(exits)}
    yield from _worker(otel_broker, tmp_path_factory, dead_collector, "sink", **env)


@pytest.fixture(scope="module")
def silent_collector() -> Iterator[str]:
    """An OTLP endpoint that accepts connections and never answers: each export waits its whole timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)  # never accepted: the kernel completes the handshakes, nobody replies
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture(scope="module")
def stalled_worker(
    otel_broker: Broker, tmp_path_factory: pytest.TempPathFactory, silent_collector: str
) -> Iterator[AppWorker]:
    """A worker whose sink exports to the silent endpoint, with a long export ``timeout``."""
    env = {"OTEL_E2E_TIMEOUT": str(STALLED_EXPORT_TIMEOUT)}
    yield from _worker(otel_broker, tmp_path_factory, silent_collector, "sink", **env)


@pytest.fixture(scope="module")
def instrumented_worker(
    otel_broker: Broker, tmp_path_factory: pytest.TempPathFactory, collector: Collector
) -> Iterator[AppWorker]:
    """A prefork worker with OpenTelemetry's CeleryInstrumentor in every pool process, and our sink."""
    yield from _worker(otel_broker, tmp_path_factory, collector.endpoint, "instrumented")


@pytest.fixture(scope="module", params=["redis", "amqp"])
def any_broker(request: pytest.FixtureRequest) -> Broker:
    """Redis, then RabbitMQ (``SELINON_TEST_AMQP_URL``) as broker; results in Redis."""
    url = brokers.redis_url()
    if request.param == "redis":
        return Broker("redis", url, url)
    return Broker("amqp", brokers.amqp_url(), url)


@pytest.fixture(scope="module")
def fates_worker(
    any_broker: Broker, tmp_path_factory: pytest.TempPathFactory, collector: Collector
) -> Iterator[AppWorker]:
    """The sink's worker on each broker, for the messages it revokes, finds expired or rejects."""
    yield from _worker(any_broker, tmp_path_factory, collector.endpoint, "sink")
