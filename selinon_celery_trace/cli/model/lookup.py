"""Which run a person means by an id: a flow, a canvas workflow, or one task (``show``, ``timeline``).

A dispatcher id is a flow. A task id, a canvas's root id or a group id is its whole canvas workflow
when the task is in one (or the id ties canvas tasks together), shown under its flow when the canvas
runs in one; any other task id is that task. The files are read again for each pass this needs, so
``read`` returns the records anew each time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..reading.lines import Record
from .canvas_collect import collect_canvas
from .canvas_run import CanvasRun
from .collector import Collector
from .runs import FlowRun, TaskRun

__all__ = ["Found", "look_up"]

Run = FlowRun | TaskRun | CanvasRun


@dataclass(slots=True)
class Found:
    """The run an id names (None: no event names it), or the ids a too-short id starts."""

    wanted: str
    run: Run | None
    ambiguous: set[str] = field(default_factory=set)


def look_up(wanted: str, first: Iterable[Record], read: Callable[[], Iterable[Record]]) -> Found:
    """Find the run ``wanted`` names: ``first`` is the first read of the records, ``read`` the later ones."""
    collector = Collector(wanted).add_all(first)
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
        flow = Collector(canvas.flow_id).add_all(read()).result()
        if isinstance(flow, FlowRun):
            return Found(wanted, flow)
    if canvas.run is not None:
        return Found(wanted, canvas.run)
    return Found(wanted, run)
