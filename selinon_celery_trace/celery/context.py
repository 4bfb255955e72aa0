"""Flow context carried in task message headers (pure functions).

One header, ``selinon_trace``, holds a small JSON-safe mapping: ``flow_name`` and ``dispatcher_id`` when
the task runs in a flow, ``node_name`` when a dispatcher scheduled it as a named node, ``parent`` when
the message is a task's own retry (Celery then sets the task itself as ``parent_id``), and for a task in
a Celery canvas ``canvas`` (``True``) with the facts only the publishing process knows (``callback_of``,
``errback_of``, a chord body's ``chord_id``: see :mod:`.canvas`), and for a ``Task.replace``
replacement (or the chain or chord replacing a task) ``replaces_id``, ``replaces`` and ``replacement``
(see :mod:`.replacement`). Celery turns message headers into attributes of ``task.request``, so the
worker reads it back from there.

Another header, ``selinon_trace_sent``, is the publish time (POSIX seconds) of every message a tracing
process publishes, for the queue wait of the attempt it starts: in a header of its own, so a worker
reads it only while one of its sinks uses queue waits, and the flow context of a task outside any flow
or canvas stays absent (nothing to read per task).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .canvas import CARRIED

__all__ = ["HEADER", "REPLACED", "SENT", "read", "true_parent"]

HEADER: Final = "selinon_trace"
SENT: Final = "selinon_trace_sent"
REPLACED: Final = ("replaces_id", "replaces")
"""A replacement's mark (``Task.replace``): the replaced task's id and name (see :mod:`.replacement`)."""
_FIELDS: Final = (
    "flow_name",
    "dispatcher_id",
    "node_name",
    "parent",
    "parent_dispatcher_id",
    *CARRIED,
    *REPLACED,
)


def read(carrier: Any) -> dict[str, Any]:
    """Return the flow context of a request (or a headers mapping); ``{}`` when there is none.

    Only known fields with string (or None) values are kept: a header set by someone else, or
    mangled in transit, never breaks a task.
    """
    if isinstance(carrier, dict):
        raw = carrier.get(HEADER)
    else:
        # Celery's request Context keeps message headers in its __dict__; reading that avoids the
        # AttributeError a missing attribute costs on every task outside a flow.
        try:
            raw = vars(carrier).get(HEADER)
        except TypeError:
            raw = getattr(carrier, HEADER, None)
    if not isinstance(raw, dict):
        return {}
    found = {
        key: raw[key] for key in _FIELDS if key in raw and (raw[key] is None or isinstance(raw[key], str))
    }
    if raw.get("canvas") is True:
        found["canvas"] = True
    nesting = raw.get("replacement")
    if type(nesting) is int:
        found["replacement"] = nesting
    return found


def true_parent(fields: Mapping[str, Any], context: dict[str, Any]) -> str | None:
    """Return the id of the task that published this one; never the task itself.

    ``fields`` is the request as a mapping (Celery's request dict, or ``vars()`` of its ``Context``).
    """
    if "parent" in context:
        return context["parent"]  # type: ignore[no-any-return]
    parent = fields.get("parent_id")
    if parent is None or parent == fields.get("id") or not isinstance(parent, str):
        return None  # a retry of a top-level task: Celery names the task as its own parent
    return parent
