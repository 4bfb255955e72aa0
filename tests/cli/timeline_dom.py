"""The timeline page as headless Chromium drew it: the DOM it dumps, read into what a test asserts.

``chromium --dump-dom`` prints the document after the page's script ran: the SVG it drew (bars, the
greyed steps that never ran, every label), the header's facts and error line, the legend. A label's
extent is estimated as the page lays it out (6.4 px a character at 11 px), to check it is inside the
frame.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from tests.cli.test_cli_timeline_browser import _browser

CHAR = 6.4  # the page's own estimate of a character's width (timeline.html: CHAR)


@dataclass
class Label:
    """One <text> of the chart: where it is anchored, how, and what it says."""

    x: float
    anchor: str
    text: str
    css: str

    def extent(self) -> tuple[float, float]:
        """From where to where the label reaches, as the page estimates it."""
        width = len(self.text) * CHAR
        if self.anchor == "end":
            return self.x - width, self.x
        if self.anchor == "middle":
            return self.x - width / 2, self.x + width / 2
        return self.x, self.x + width


@dataclass
class Drawn:
    """What the page drew."""

    root: dict[str, str | None] = field(default_factory=dict)
    bars: list[dict[str, str | None]] = field(default_factory=list)
    never_ran: list[dict[str, str | None]] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    svg_width: float = 0.0
    facts: str = ""
    error_line: str = ""
    error_class: str = ""
    legend: dict[str, bool] = field(default_factory=dict)  # legend entry text -> shown
    title: str = ""

    @property
    def errors(self) -> list[str]:
        return list(json.loads(self.root.get("data-errors") or "null"))


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.drawn = Drawn()
        self._in: list[tuple[str, dict[str, str | None]]] = []
        self._text: list[str] = []
        self._legend: tuple[bool, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        if tag == "html":
            self.drawn.root = values
        elif tag == "svg" and not self.drawn.svg_width:
            self.drawn.svg_width = float(values.get("width") or 0)
        elif tag == "rect" and "bar" in classes:
            self.drawn.bars.append(values)
        elif tag == "rect" and "never-ran" in classes:
            self.drawn.never_ran.append(values)
        elif tag == "span" and self._in and self._in[-1][1].get("class") == "legend":
            self._legend = ("hidden" not in values, [])
        if tag not in ("rect", "line", "stop", "i", "meta", "br", "input"):
            self._in.append((tag, values))
            self._text.append("")

    def handle_endtag(self, tag: str) -> None:
        if not self._in or self._in[-1][0] != tag:
            return
        _, values = self._in.pop()
        text = self._text.pop()
        if self._text:
            self._text[-1] += text
        if tag == "text":
            self.drawn.labels.append(
                Label(
                    float(values.get("x") or 0),
                    values.get("text-anchor") or "start",
                    text,
                    values.get("class") or "",
                )
            )
        elif values.get("id") == "facts":
            self.drawn.facts = text
        elif values.get("id") == "error-line":
            self.drawn.error_line, self.drawn.error_class = text, values.get("class") or ""
        elif values.get("id") == "title":
            self.drawn.title = text
        elif tag == "span" and self._legend is not None:
            self.drawn.legend[text.strip()] = self._legend[0]
            self._legend = None

    def handle_data(self, data: str) -> None:
        if self._text:
            self._text[-1] += data


def draw(chromium: str, page: Path, profile: Path) -> Drawn:
    """Open ``page`` in headless Chromium and read what it drew."""
    dumped: subprocess.CompletedProcess[str] = _browser(chromium, profile, "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    reader = _Reader()
    reader.feed(dumped.stdout)
    return reader.drawn


def screenshot(chromium: str, page: Path, profile: Path, shot: Path) -> None:
    """Save a PNG of the page (for a person to look at; its path is printed with ``pytest -s``)."""
    taken = _browser(chromium, profile, f"--screenshot={shot}", page.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    print(f"timeline screenshot: {shot}")


def assert_inside_frame(drawn: Drawn) -> None:
    """Every label of the chart is inside the SVG's frame."""
    assert drawn.svg_width > 0
    for label in drawn.labels:
        left, right = label.extent()
        assert left >= -1 and right <= drawn.svg_width + 1, (label, drawn.svg_width)
