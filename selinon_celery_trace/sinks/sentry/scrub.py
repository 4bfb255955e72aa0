"""What Sentry receives is masked as every other sink's output is: by key name and by value.

sentry-sdk collects more than our details: the exception's message, each frame's local variables and
source lines, log breadcrumbs, ``extra`` (its Celery integration puts a task's arguments there), the
request. :func:`scrub_event` runs the details policy over all of it, in place, from the Sentry sink's
global event processor, that is before sentry-sdk serialises the event: local variables are still the
live objects, so they are rendered as every sink renders them (objects by their fields, never by their
``__repr__``) and masked by name and by value. Identifiers (event and trace ids, tags, SDK and runtime
contexts) are left as they are.

sentry-sdk's own ``EventScrubber`` is not used for this: it matches exact key names only (no fragments,
no ``word:`` entries), never looks at values, and is an option of one client, where this runs for every
event a client of the process sends while it carries our context.
"""

from __future__ import annotations

from typing import Any, Final

from ...core.redact import Policy, sanitize

__all__ = ["scrub_event"]

# Contexts sentry-sdk fills with facts of the process and trace, not with data of the application's.
_SDK_CONTEXTS: Final = frozenset(
    {"trace", "runtime", "os", "device", "app", "browser", "gpu", "culture", "otel"}
)
_OURS: Final = "selinon_trace"  # our own context: the adapters' details, masked already (and not cut again)
# Parts of the event holding the application's data, scrubbed as a whole.
_DATA_PARTS: Final = ("extra", "request", "user")


def _annotated(value: Any) -> bool:
    # sentry-sdk's AnnotatedValue (a value it already filtered, with metadata): kept as it is.
    return type(value).__name__ == "AnnotatedValue"


def _text(holder: dict[str, Any], key: str, policy: Policy) -> None:
    value = holder.get(key)
    if isinstance(value, str):
        holder[key] = policy.message(value)


def _data(value: Any, policy: Policy) -> Any:
    return value if _annotated(value) else sanitize(value, policy)


def _frames(holder: Any, policy: Policy) -> None:
    stacktrace = holder.get("stacktrace") if isinstance(holder, dict) else None
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    for frame in frames if isinstance(frames, list) else ():
        if not isinstance(frame, dict):
            continue
        if "vars" in frame:
            try:
                frame["vars"] = _data(frame["vars"], policy)
            except Exception:  # never send what could not be masked
                frame["vars"] = {}
        _text(frame, "context_line", policy)
        for key in ("pre_context", "post_context"):
            if isinstance(frame.get(key), list):
                frame[key] = [policy.message(line) if isinstance(line, str) else line for line in frame[key]]


def _values(event: dict[str, Any], part: str) -> list[Any]:
    holder = event.get(part)
    values = holder.get("values") if isinstance(holder, dict) else None
    return values if isinstance(values, list) else []


def _scrub(event: dict[str, Any], policy: Policy) -> None:
    for value in _values(event, "exception"):
        if isinstance(value, dict):
            _text(value, "value", policy)
            _frames(value, policy)
    for thread in _values(event, "threads"):
        _frames(thread, policy)
    _text(event, "message", policy)
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        _text(logentry, "message", policy)
        _text(logentry, "formatted", policy)
        if "params" in logentry:
            logentry["params"] = _data(logentry["params"], policy)
    for crumb in _values(event, "breadcrumbs"):
        if isinstance(crumb, dict):
            _text(crumb, "message", policy)
            if "data" in crumb:
                crumb["data"] = _data(crumb["data"], policy)
    contexts = event.get("contexts")
    if isinstance(contexts, dict):
        for name, context in list(contexts.items()):
            if name not in _SDK_CONTEXTS and name != _OURS:
                contexts[name] = _data(context, policy)
    for part in _DATA_PARTS:
        if part in event:
            event[part] = _data(event[part], policy)


def scrub_event(event: dict[str, Any], policy: Policy) -> dict[str, Any] | None:
    """Mask ``event`` in place (see the module docstring); None, to drop it, if that failed midway.

    An event that could not be masked whole is not sent: a failure report lost is better than a secret
    leaked (it cannot happen short of a bug of ours, which the errors logger then shows).
    """
    try:
        _scrub(event, policy)
    except Exception:
        return None
    return event
