"""The metrics sink's configuration errors and its /metrics endpoint (in this process or a small one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from selinon_celery_trace import TraceConfigError
from selinon_celery_trace.celery.config import build_sinks
from selinon_celery_trace.sinks.metrics import MetricsSink


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"port": "9808"}, "'port'"),
        ({"port": 70000}, "'port'"),
        ({"port": True}, "'port'"),
        ({"addr": 127}, "'addr'"),
        ({"multiproc_dir": ""}, "'multiproc_dir'"),
        ({"prefix": "my-app"}, "'prefix'"),
        ({"buckets": [1, 2]}, "'buckets'"),
    ],
)
def test_bad_option_names_the_key(options: dict[str, Any], named: str) -> None:
    """A wrong metrics option fails at install with an error naming the entry and the option."""
    with pytest.raises(TraceConfigError) as error:
        build_sinks([{"metrics": options}])
    assert "selinon_trace[0].metrics" in str(error.value) and named in str(error.value)


def test_good_options_build_the_sink() -> None:
    """Valid options build a sink that asks for queue waits and serves on the port given."""
    (sink,) = build_sinks([{"metrics": {"port": 0, "addr": "127.0.0.1", "prefix": "myapp"}}])
    assert isinstance(sink, MetricsSink) and sink.wants_queue_wait is True
    assert sink.serving.port == 0 and sink.key == ("metrics", "myapp")


@pytest.mark.parametrize("interval", ["15", 0, -1, 0.01, True, float("nan"), float("inf"), [15]])
def test_bad_queue_length_interval_names_the_key(interval: Any) -> None:
    """A queue_length_interval that is no number of seconds (>= 0.1) fails at install, naming it."""
    with pytest.raises(TraceConfigError) as error:
        build_sinks([{"metrics": {"queue_length_interval": interval}}])
    assert "selinon_trace[0].metrics" in str(error.value) and "'queue_length_interval'" in str(error.value)


@pytest.mark.parametrize(("interval", "expected"), [(None, None), (2, 2.0), (0.5, 0.5)])
def test_queue_length_interval_sets_the_sampler(interval: Any, expected: float | None) -> None:
    """A number of seconds makes the sampler of that interval; null makes none (queue lengths not asked)."""
    (sink,) = build_sinks([{"metrics": {"port": None, "queue_length_interval": interval}}])
    assert isinstance(sink, MetricsSink)
    sampler = sink.worker.sampler
    assert (sampler.interval if sampler is not None else None) == expected


_SCRAPE_DURING_CREATION = """
import os, sys, threading, urllib.error, urllib.request
from selinon_celery_trace.sinks.metrics.serving import Serving
serving = Serving(0, "127.0.0.1", sys.argv[1])
serving.start()
path = os.path.join(sys.argv[1], "counter_4242.db")
open(path, "wb").close()  # a pool process's file as prometheus_client creates it, before its header
threading.Timer(0.03, os.remove, [path]).start()  # the process's own life goes on
try:
    with urllib.request.urlopen(serving.url, timeout=5) as response:
        print(response.status)
except urllib.error.HTTPError as exc:
    print(exc.code, exc.reason)
"""


def test_a_scrape_while_a_process_creates_its_file_is_answered(tmp_path: Path) -> None:
    """A scrape that meets a pool process's metrics file still empty is answered 200 once the file is
    whole (or gone), not 500: Prometheus would read a 500 as the worker down for that scrape."""
    ran = subprocess.run(
        [sys.executable, "-c", _SCRAPE_DURING_CREATION, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "200", ran.stdout
