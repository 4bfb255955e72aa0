"""A real worker's log says whether it traces: one INFO line naming its sinks, or one WARNING."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.support import Broker, Worker, running

pytestmark = pytest.mark.e2e

ANNOUNCED = "selinon_celery_trace: "


def _worker(redis_broker_url: str, factory: pytest.TempPathFactory, env: dict[str, str]) -> Iterator[Worker]:
    broker = Broker("redis", redis_broker_url, redis_broker_url)
    with running(Worker(broker, factory.mktemp("announce"), env)) as worker:
        yield worker


@pytest.fixture(scope="module")
def traced_worker(redis_broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """The e2e worker: ``imports`` lists the auto module, ``selinon_trace`` a JSON-lines file."""
    yield from _worker(redis_broker_url, tmp_path_factory, {})


@pytest.fixture(scope="module")
def untraced_worker(redis_broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """The same worker with ``selinon_trace`` empty: the auto module installs, and nothing is traced."""
    yield from _worker(redis_broker_url, tmp_path_factory, {"E2E_TRACE_FILE": ""})


def _announced(worker: Worker) -> list[str]:
    log = worker.log_path.read_text(encoding="utf-8", errors="replace")
    return [line for line in log.splitlines() if ANNOUNCED in line]


def test_a_tracing_worker_logs_one_info_line_naming_its_file(traced_worker: Worker) -> None:
    """Once ready, the worker logs one INFO line: tracing to JSON lines, with the file's path."""
    (line,) = _announced(traced_worker)
    assert "INFO/MainProcess" in line, line
    assert f"tracing to JSON lines to {traced_worker.trace.path}" in line, line


def test_a_worker_that_traces_nothing_logs_a_warning(untraced_worker: Worker) -> None:
    """With selinon_trace empty the worker warns, naming the setting, and logs no INFO line."""
    (line,) = _announced(untraced_worker)
    assert "WARNING/MainProcess" in line, line
    assert "nothing is traced" in line and "selinon_trace" in line, line
