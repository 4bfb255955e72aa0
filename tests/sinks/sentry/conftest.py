"""Fixtures of the Sentry suite: the local envelope server, a clean sentry-sdk per test, real workers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:  # plain `pytest` (tox) does not put the checkout on sys.path
    sys.path.insert(0, str(REPO_ROOT))

from tests import brokers  # noqa: E402
from tests.e2e.support import Broker  # noqa: E402
from tests.sinks.sentry.envelopes import EnvelopeServer  # noqa: E402
from tests.sinks.sentry.workers import SentryWorker, started  # noqa: E402


@pytest.fixture(scope="session")
def envelope_server() -> Iterator[EnvelopeServer]:
    """One local Sentry endpoint for the session; tests find their events by their own ids."""
    server = EnvelopeServer().start()
    yield server
    server.stop()


@pytest.fixture
def sentry_server(envelope_server: EnvelopeServer) -> Iterator[EnvelopeServer]:
    """The envelope server, emptied for an in-process test, with sentry-sdk reset after it."""
    envelope_server.clear()
    yield envelope_server
    reset_sentry()


def reset_sentry() -> None:
    """Close whatever client a test initialised and leave the process with none (as at start)."""
    import sentry_sdk

    client = sentry_sdk.get_client()
    if client.is_active():
        client.close(timeout=1)
    sentry_sdk.get_global_scope().set_client(None)
    sentry_sdk.get_isolation_scope().clear()
    sentry_sdk.get_current_scope().clear()


# -- workers ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sentry_broker() -> Broker:
    """Redis (``SELINON_TEST_REDIS_URL``, else a private ``redis-server``) as broker and result backend."""
    url = brokers.redis_url()
    return Broker("redis", url, url)


def _worker(
    broker: Broker, factory: pytest.TempPathFactory, server: EnvelopeServer, **env: str
) -> Iterator[SentryWorker]:
    env.setdefault("SENTRY_E2E_DSN", server.dsn)
    worker = SentryWorker(broker, factory.mktemp("sentry-worker"), env)
    with started(worker):
        yield worker


@pytest.fixture(scope="module")
def sink_worker(
    sentry_broker: Broker, tmp_path_factory: pytest.TempPathFactory, envelope_server: EnvelopeServer
) -> Iterator[SentryWorker]:
    """A prefork worker whose only Sentry setup is our sink (``{"sentry": {"dsn": ...}}``)."""
    yield from _worker(sentry_broker, tmp_path_factory, envelope_server, SENTRY_E2E_MODE="sink")


@pytest.fixture(scope="module")
def user_worker(
    sentry_broker: Broker, tmp_path_factory: pytest.TempPathFactory, envelope_server: EnvelopeServer
) -> Iterator[SentryWorker]:
    """The app calls ``sentry_sdk.init`` with the Celery integration itself; our sink uses that client."""
    yield from _worker(sentry_broker, tmp_path_factory, envelope_server, SENTRY_E2E_MODE="user")


@pytest.fixture(scope="module")
def logging_worker(
    sentry_broker: Broker, tmp_path_factory: pytest.TempPathFactory, envelope_server: EnvelopeServer
) -> Iterator[SentryWorker]:
    """Our Sentry sink and our logging sink (Sentry's logging integration sees the latter's records)."""
    yield from _worker(sentry_broker, tmp_path_factory, envelope_server, SENTRY_E2E_MODE="sink+logging")


@pytest.fixture(scope="module")
def recycling_worker(
    sentry_broker: Broker, tmp_path_factory: pytest.TempPathFactory, envelope_server: EnvelopeServer
) -> Iterator[SentryWorker]:
    """Our sink with ``worker_max_tasks_per_child=1``: every task in a fresh pool process that then exits."""
    yield from _worker(
        sentry_broker,
        tmp_path_factory,
        envelope_server,
        SENTRY_E2E_MODE="sink",
        E2E_MAX_TASKS_PER_CHILD="1",
    )


@pytest.fixture(scope="module", params=["redis", "amqp"])
def fates_worker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, envelope_server: EnvelopeServer
) -> Iterator[SentryWorker]:
    """Our sink with TASK_REJECTED in its ``events``, on Redis, then RabbitMQ (results in Redis)."""
    url = brokers.redis_url()
    broker = (
        Broker("redis", url, url) if request.param == "redis" else Broker("amqp", brokers.amqp_url(), url)
    )
    yield from _worker(broker, tmp_path_factory, envelope_server, SENTRY_E2E_MODE="fates")


@pytest.fixture(scope="module")
def locals_worker(
    sentry_broker: Broker, tmp_path_factory: pytest.TempPathFactory, envelope_server: EnvelopeServer
) -> Iterator[SentryWorker]:
    """Our sink initialises Sentry with ``include_local_variables: true``."""
    yield from _worker(sentry_broker, tmp_path_factory, envelope_server, SENTRY_E2E_MODE="sink+locals")


@pytest.fixture(scope="module")
def pii_worker(
    sentry_broker: Broker, tmp_path_factory: pytest.TempPathFactory, envelope_server: EnvelopeServer
) -> Iterator[SentryWorker]:
    """The app's own client, frame locals on and ``send_default_pii`` (its Celery integration adds args)."""
    yield from _worker(sentry_broker, tmp_path_factory, envelope_server, SENTRY_E2E_MODE="user+pii")
