"""The timeline of a real example trace in a real headless Chromium: drawn, no errors, a bar per attempt.

Uses the Chromium helpers of ``tests/cli/test_cli_timeline_browser.py`` (which skip outside CI
when Chromium is missing, and fail in CI). The screenshots stay in pytest's temporary directory; their
paths are printed (``pytest -s``) for a person to look at.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from selinon_celery_trace.cli import cli
from tests.cli.conftest import RealTrace
from tests.cli.test_cli_timeline_browser import _browser, _Page, chromium  # noqa: F401


@pytest.mark.parametrize("doc", ["release-notes", "scanned-contract"])
def test_real_timeline_renders_one_bar_per_attempt_and_is_screenshot(
    chromium: str,  # noqa: F811
    real_trace: RealTrace,
    tmp_path: Path,
    doc: str,
) -> None:
    """The retried flow and the failed flow draw with no console error, one bar per attempt, and a PNG."""
    flow_id = real_trace.flows[doc]
    page = tmp_path / f"{doc}.html"
    result = CliRunner().invoke(cli, ["timeline", "-o", str(page), flow_id, str(real_trace.path)])
    assert result.exit_code == 0, result.output
    dumped = _browser(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    parsed = _Page()
    parsed.feed(dumped.stdout)
    assert parsed.root.get("data-rendered") == "true", "the page's script did not finish"
    assert json.loads(parsed.root.get("data-errors") or "null") == []
    expected = real_trace.attempts(flow_id)
    drawn = [
        (bar.get("data-task-id"), int(bar.get("data-attempt") or 0), bar.get("data-outcome"))
        for bar in parsed.bars
    ]
    assert len(drawn) == len(expected) and set(drawn) == expected
    assert parsed.root.get("data-bars") == str(len(expected))
    wanted = "retry" if doc == "release-notes" else "failure"
    assert any(outcome == wanted for _, _, outcome in drawn)

    shot = tmp_path / f"timeline-{doc}.png"
    taken = _browser(chromium, tmp_path / "profile", f"--screenshot={shot}", page.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    print(f"timeline screenshot: {shot}")
