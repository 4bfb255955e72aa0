"""The one-line event renderer that `follow` prints and live views reuse."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selinon_celery_trace.cli.views.render import event_style, render_event
from selinon_celery_trace.core import catalogue

from . import tracegen


def test_a_task_failure_reads_as_a_sentence_with_the_error_line_and_where_it_ran() -> None:
    """Name, short id, queue, worker and flow, then the traceback's last line (the long part last)."""
    details = {
        "task_name": "example.parse_page",
        "task_id": tracegen.PARSE_PAGE,
        "what": tracegen.PARSE_ERROR,
        "queue": "parse",
        "hostname": "celery@host-a",
        "pid": 102,
        "flow_name": "parse",
        "dispatcher_id": tracegen.PARSE,
        "retried_count": 2,
    }
    line = render_event("TASK_FAILURE", details, ts=0, node="host-a").plain
    assert line == (
        "00:00:00.000 host-a TASK_FAILURE        example.parse_page[7c7c7c7c] failed attempt 3 "
        "q=parse celery@host-a/102 in parse[5e5e5e5e]: ValueError: bad html: no <body>"
    )


def test_event_numbers_work_as_a_trace_sink_passes_them() -> None:
    """A sink gets the event number; the line names the event and uses the current time."""
    line = render_event(catalogue.BY_NAME["FLOW_END"].number, {"flow_name": "crawl"}).plain
    assert "FLOW_END" in line and "flow crawl finished" in line


@pytest.mark.parametrize(
    ("name", "style"),
    [
        ("DISPATCHER_FAILURE", "bold white on red"),
        ("TASK_FAILURE", "bold red"),
        ("TASK_RETRY", "bold yellow"),
        ("STORAGE_ISSUE", "yellow"),
        ("TASK_END", "green"),
        ("STORAGE_STORE", "default"),
        ("NOT_AN_EVENT", "dim"),
    ],
)
def test_warnings_and_errors_stand_out(name: str, style: str) -> None:
    """The catalogue's levels decide: the dispatcher's errors reversed, failures red, warnings yellow."""
    assert event_style(name) == style


def test_other_events_show_their_simple_values() -> None:
    """Events the package does not emit itself (user code, storage) list their scalar details."""
    details = {"storage_name": "S3", "task_name": "t", "flow_name": "f", "dispatcher_id": "d" * 20, "size": 3}
    line = render_event("STORAGE_STORED", details, ts=0).plain
    assert "f[dddddddd]" in line and "storage_name=S3" in line and "size=3" in line


@given(
    st.sampled_from([*catalogue.NAMES.values(), "CUSTOM"]) | st.integers(min_value=-3, max_value=110),
    st.none()
    | st.lists(st.integers())
    | st.dictionaries(st.text(max_size=12), st.none() | st.integers() | st.text()),
)
def test_any_details_render_without_raising(event: str | int, details: Any) -> None:
    """Missing keys, wrong types and unknown events render, never raise."""
    assert render_event(event, details, ts=1e9, node="h").plain
