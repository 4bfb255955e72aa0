"""Fixtures of the example project's smoke tests: the example run once per broker, its files kept."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # plain `pytest` (tox) does not put the checkout on sys.path
    sys.path.insert(0, str(REPO_ROOT))

from tests import brokers  # noqa: E402
from tests.example.support import ExampleRun, run_example, wait_gone  # noqa: E402


@pytest.fixture(scope="module", params=["embedded", "redis"])
def example_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExampleRun]:
    """The example run once on the embedded default (with the live view) and once on Redis (without).

    On Redis the run names its queues uniquely and deletes them afterwards: the server may be shared.
    """
    state_dir = tmp_path_factory.mktemp(f"example-{request.param}")
    if request.param == "embedded":
        yield run_example("embedded", state_dir)
    else:
        url = brokers.redis_url()
        prefix = f"example-{uuid.uuid4().hex[:10]}."
        try:
            yield run_example("redis", state_dir, "--broker", url, "--queue-prefix", prefix, "--no-live")
        finally:
            brokers.delete_redis_keys(url, f"*{prefix}*")
    leftovers = wait_gone(str(state_dir))
    assert not leftovers, f"processes of the example left behind: {leftovers}"
