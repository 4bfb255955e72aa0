"""The timeline page in a real headless Chromium: it renders, with no errors, one bar per attempt.

The page records every error (window errors, unhandled rejections, console.error) on its <html>
element as ``data-errors``, and marks ``data-rendered`` when it finished drawing; the test reads both
from Chromium's ``--dump-dom`` output and counts the ``rect.bar`` elements. In CI (``CI=true``) a
missing Chromium fails the test; elsewhere it skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from selinon_celery_trace.cli import cli

from . import tracegen
from .tracegen import write_trace_files

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
EXPECTED_ATTEMPTS = {
    (tracegen.FETCH_1, "1", "retry"),
    (tracegen.FETCH_1, "2", "success"),
    (tracegen.FETCH_2, "1", "success"),
    (tracegen.PARSE_PAGE, "1", "failure"),
    (tracegen.STORE, "1", "success"),
    (tracegen.RENDER, "1", "failure"),
}


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium binary; its absence fails in CI and skips elsewhere."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
    pytest.skip("chromium is not installed")


def _browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--window-size=1400,800",
        "--virtual-time-budget=5000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


class _Page(HTMLParser):
    """Collects the <html> element's attributes and every task-attempt bar."""

    def __init__(self) -> None:
        super().__init__()
        self.root: dict[str, str | None] = {}
        self.bars: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.root = values
        elif tag == "rect" and "bar" in (values.get("class") or "").split():
            self.bars.append(values)


def _render(chromium: str, tmp_path: Path, group_by: str) -> tuple[_Page, Path]:
    files = write_trace_files(tmp_path)
    page = tmp_path / f"timeline-{group_by}.html"
    result = CliRunner().invoke(
        cli, ["timeline", "-o", str(page), "--group-by", group_by, str(files.host_a), str(files.host_b)]
    )
    assert result.exit_code == 0, result.output
    dumped = _browser(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    parsed = _Page()
    parsed.feed(dumped.stdout)
    return parsed, page


@pytest.mark.parametrize("group_by", ["host", "queue"])
def test_timeline_renders_one_bar_per_attempt_with_no_errors(
    chromium: str, tmp_path: Path, group_by: str
) -> None:
    """The page finishes drawing, reports no error, and has exactly the six attempts as bars."""
    parsed, _ = _render(chromium, tmp_path, group_by)
    assert parsed.root.get("data-rendered") == "true", "the page's script did not finish"
    assert json.loads(parsed.root.get("data-errors") or "null") == []
    drawn = {
        (bar.get("data-task-id"), bar.get("data-attempt"), bar.get("data-outcome")) for bar in parsed.bars
    }
    assert len(parsed.bars) == len(EXPECTED_ATTEMPTS)
    assert drawn == EXPECTED_ATTEMPTS
    assert parsed.root.get("data-bars") == str(len(EXPECTED_ATTEMPTS))


def test_timeline_screenshot_is_saved(chromium: str, tmp_path: Path) -> None:
    """A screenshot of the page is written (kept in pytest's temporary directory for a person to look at)."""
    _, page = _render(chromium, tmp_path, "host")
    shot = tmp_path / "timeline.png"
    result = _browser(chromium, tmp_path / "profile", f"--screenshot={shot}", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # a drawn chart, not a blank page
    print(f"timeline screenshot: {shot}")
