"""End-to-end fixtures: real brokers, a real prefork ``celery worker`` subprocess, its JSON-lines trace.

A worker is started once per test module and broker (``broker`` is parametrized over Redis and RabbitMQ)
and reused by the module's tests, each of which publishes its own tasks (fresh task ids). Every worker is
stopped with a warm shutdown (SIGTERM) when its module ends, whatever happened, and the fixture fails
when any of its processes outlives that.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # plain `pytest` (tox) does not put the checkout on sys.path
    sys.path.insert(0, str(REPO_ROOT))

import selinon_celery_trace  # noqa: E402
from tests import brokers  # noqa: E402
from tests.e2e.support import Broker, Publisher, Worker, running  # noqa: E402

# -- brokers -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_broker_url() -> Iterator[str]:
    """A Redis URL (``SELINON_TEST_REDIS_URL``, else a private ``redis-server`` for the session)."""
    yield brokers.redis_url()
    brokers.stop_redis_servers()


@pytest.fixture(scope="session")
def amqp_broker_url() -> str:
    """The RabbitMQ URL of ``SELINON_TEST_AMQP_URL`` (skips when unset, fails in CI)."""
    return brokers.amqp_url()


@pytest.fixture(scope="module", params=["redis", "amqp"])
def broker(request: pytest.FixtureRequest, redis_broker_url: str) -> Broker:
    """Each module's tests run once on Redis and once on RabbitMQ (results are kept in Redis)."""
    if request.param == "redis":
        return Broker("redis", redis_broker_url, redis_broker_url)
    url = request.getfixturevalue("amqp_broker_url")
    return Broker("amqp", url, redis_broker_url)


# -- the worker ----------------------------------------------------------------------------------


def _run_worker(
    broker: Broker, tmp_path_factory: pytest.TempPathFactory, extra_env: dict[str, str]
) -> Iterator[Worker]:
    with running(Worker(broker, tmp_path_factory.mktemp(f"worker-{broker.name}"), extra_env)) as worker:
        yield worker


@pytest.fixture(scope="module")
def worker(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A prefork worker (concurrency 2) consuming the four queues, traced by configuration only."""
    yield from _run_worker(broker, tmp_path_factory, {})


@pytest.fixture(scope="module")
def recycling_worker(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """The same worker with ``worker_max_tasks_per_child=1``: a fresh pool process for every task."""
    yield from _run_worker(broker, tmp_path_factory, {"E2E_MAX_TASKS_PER_CHILD": "1"})


# -- the publishing side -------------------------------------------------------------------------


def _publisher(worker: Worker) -> Iterator[Publisher]:
    # A client process is traced with install(): it does not import `imports` (see auto.py).
    selinon_celery_trace.install(worker.app)
    try:
        yield Publisher(worker)
    finally:
        selinon_celery_trace.uninstall(worker.app)


@pytest.fixture
def e2e(worker: Worker) -> Iterator[Publisher]:
    """Publish to the module's worker; TASK_SCHEDULE events of the test process go to its trace file."""
    yield from _publisher(worker)


@pytest.fixture
def e2e_recycling(recycling_worker: Worker) -> Iterator[Publisher]:
    """Publish to the module's ``worker_max_tasks_per_child=1`` worker."""
    yield from _publisher(recycling_worker)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Show the tail of the worker's log under a failed test."""
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, Publisher):
                report.sections.append(("worker log (tail)", value.worker.log_tail()))
    return report
