"""Which run a person means by an id: a flow, a canvas workflow, or one task (``show``, ``timeline``).

A dispatcher id is a flow. A task id, a canvas's root id or a group id is its whole canvas workflow
when the task is in one (or the id ties canvas tasks together), shown under its flow when the canvas
runs in one; any other task id is that task. The files are read again for each pass this needs, so
``read`` returns the records anew each time; each pass hands the reader the ids it looks for
(:class:`.prefilter.Needles`), so that a reader may skip the lines naming none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..reading.lines import Record
from ..reading.prefilter import Needles
from .canvas_collect import collect_canvas
from .canvas_run import CanvasRun
from .collector import Collector
from .runs import FlowRun, TaskRun

__all__ = ["Found", "Reader", "look_up"]

Run = FlowRun | TaskRun | CanvasRun

Reader = Callable[[Needles], Iterable[Record]]
"""Reads the files once more: every record, or at least those naming one of the needles."""


@dataclass(slots=True)
class Found:
    """The run an id names (None: no event names it), or the ids a too-short id starts."""

    wanted: str
    run: Run | None
    ambiguous: set[str] = field(default_factory=set)


def _collect(wanted: str, first: Reader, read: Reader) -> Collector:
    """Fold the events of ``wanted`` (a flow with its subflows, or a task) in one pass, or more when
    the reader merged files and a subflow was learned during the pass (see ``Needles.reread``)."""
    collector = Collector(wanted)
    while True:
        needles = collector.needles
        version = needles.version
        collector.add_all(first(needles))
        if not needles.reread or needles.version == version:
            return collector
        collector, first = Collector(wanted, needles.copy()), read


def look_up(wanted: str, first: Reader, read: Reader) -> Found:
    """Find the run ``wanted`` names: ``first`` is the first read of the records, ``read`` the later ones."""
    collector = _collect(wanted, first, read)
    run = collector.result()
    if collector.ambiguous:
        return Found(wanted, run, collector.ambiguous)
    if isinstance(run, FlowRun):
        return Found(wanted, run)
    if isinstance(run, TaskRun) and run.canvas is None and run.parent is not None:
        return Found(wanted, run)  # a task outside any canvas, published by another task
    canvas = collect_canvas(read, collector.ident or wanted)
    if canvas.ambiguous:
        return Found(wanted, run, canvas.ambiguous)
    if canvas.flow_id is not None:
        flow = _collect(canvas.flow_id, read, read).result()
        if isinstance(flow, FlowRun):
            return Found(wanted, flow)
    if canvas.run is not None:
        return Found(wanted, canvas.run)
    return Found(wanted, run)
