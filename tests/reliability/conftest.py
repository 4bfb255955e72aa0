"""Fixtures of the reliability suite: Redis, and prefork workers started per test or per module."""

from __future__ import annotations

import sys
from collections.abc import Generator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # plain `pytest` (tox) does not put the checkout on sys.path
    sys.path.insert(0, str(REPO_ROOT))

from tests import brokers  # noqa: E402
from tests.e2e.support import Broker  # noqa: E402
from tests.reliability.support import RelWorker  # noqa: E402


@pytest.fixture(scope="session")
def rel_broker() -> Broker:
    """Redis (``SELINON_TEST_REDIS_URL``, else a private ``redis-server``) as broker and result backend."""
    url = brokers.redis_url()
    return Broker("redis", url, url)


@pytest.fixture(scope="module", params=["redis", "amqp"])
def any_broker(request: pytest.FixtureRequest, rel_broker: Broker) -> Broker:
    """Redis, then RabbitMQ (``SELINON_TEST_AMQP_URL``; results in Redis): for tests that hold on both."""
    if request.param == "redis":
        return rel_broker
    return Broker("amqp", brokers.amqp_url(), rel_broker.result_backend)


class Workers:
    """Starts workers for one test and remembers them (their logs are shown when the test fails)."""

    def __init__(self, broker: Broker, factory: pytest.TempPathFactory) -> None:
        self.broker = broker
        self.factory = factory
        self.started: list[RelWorker] = []

    def make(self, broker: Broker | None = None, **options: object) -> RelWorker:
        worker = RelWorker(broker or self.broker, self.factory.mktemp("rel-worker"), **options)  # type: ignore[arg-type]
        self.started.append(worker)
        return worker


@pytest.fixture
def workers(rel_broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Workers:
    """Make workers (start them with :func:`running`)."""
    return Workers(rel_broker, tmp_path_factory)


@pytest.fixture
def broker_workers(any_broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Workers:
    """Make workers on Redis, then on RabbitMQ (the test runs once per broker)."""
    return Workers(any_broker, tmp_path_factory)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Show the tail of each worker's log under a failed test."""
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            found = value.started if isinstance(value, Workers) else [value]
            for worker in found:
                if isinstance(worker, RelWorker):
                    report.sections.append((f"worker {worker.token} log (tail)", worker.log_tail()))
    return report
