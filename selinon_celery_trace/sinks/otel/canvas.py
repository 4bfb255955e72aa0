"""Where a Celery canvas's spans go: one trace per workflow, its members under its root.

A chain is one trace by itself: each step is published inside the span of the step before it. A group's
members (and a chord header's) are each their own Celery root, published one after another by the
process applying the group; with no trace of the application's current there, each would start a trace
of its own. So the first member published in a process also exports the group's span
``apply_async/group``, an instant with ids computed from the group id, and every member's publish is its
child: the group is one trace, and so is a chord (its body is published inside its last member's span).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Final

from opentelemetry import context as context_api

from .ids import span_id_of, trace_id_of
from .spans import INTERNAL, remote

__all__ = ["GROUPS_KEPT", "Groups", "fallback_parent", "root_span_id"]

GROUPS_KEPT: Final = 256  # group ids a process remembers having exported the span of


def root_span_id(root: str) -> int:
    """The span id of a canvas root's publish (a chain's first step), from its task id."""
    return span_id_of("root", root)


def fallback_parent(details: dict[str, Any], task_id: str) -> Any:
    """The parent of an attempt whose message carried no context: its canvas root, its flow, or none."""
    root, flow = details.get("root_id"), details.get("dispatcher_id")
    if isinstance(root, str) and root != task_id:
        return remote(trace_id_of(root), root_span_id(root))
    if isinstance(flow, str):
        return remote(trace_id_of(flow), span_id_of("flow", flow))
    return context_api.Context()


class Groups:
    """The group spans this process exported (the last :data:`GROUPS_KEPT`), safe across threads."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget them (a forked child exports its own)."""
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, None] = OrderedDict()

    def parent(self, tracing: Any, group: str, when: int) -> Any:
        """The context of ``group``'s span, exported first if this process has not yet done so."""
        trace_id, span_id = trace_id_of(group), span_id_of("group", group)
        with self._lock:
            first = group not in self._seen
            if first:
                self._seen[group] = None
                if len(self._seen) > GROUPS_KEPT:
                    self._seen.popitem(last=False)
        if first:
            span = tracing.start(
                "apply_async/group",
                context=context_api.Context(),
                kind=INTERNAL,
                attributes={"messaging.system": "celery", "selinon.group_id": group},
                start_time=when,
                trace_id=trace_id,
                span_id=span_id,
            )
            if span is None:  # a tracer that cannot take our ids: the members stay traces of their own
                return None
            span.end(end_time=when)
        elif tracing.ids is None:
            return None
        return remote(trace_id, span_id)
