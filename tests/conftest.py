"""Fixtures shared by every test: a clean tracer per test, and a guard against swallowed errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selinon_celery_trace import Trace

# Celery's own in-process worker fixtures (celery_app, celery_worker, ...). pytest-celery 1.x is not
# used: its fixtures need Docker and it shadows celery_worker.
pytest_plugins = ("celery.contrib.pytest",)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tracer_errors: the test expects the tracer to swallow errors")


@pytest.fixture(autouse=True)
def clean_trace(request: pytest.FixtureRequest) -> Iterator[None]:
    """Start every test with no sinks and fail it when the tracer swallowed an unexpected error."""
    Trace.reset()
    yield
    errors = Trace.errors()
    Trace.reset()
    if errors and request.node.get_closest_marker("tracer_errors") is None:
        pytest.fail(f"the tracer swallowed internal errors: {errors}")
