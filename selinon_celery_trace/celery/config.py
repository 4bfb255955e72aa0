"""Celery configuration -> validated tracing settings, with errors that name the offending entry.

Read from ``app.conf`` (so Django's ``CELERY_`` namespace works too)::

    app.conf.selinon_trace = [
        {"logging": True},                                  # or {"logging": {"logger": "myapp.trace"}}
        {"json": True},                                     # or {"json": {"path": "/var/log/trace.jsonl"}}
        {"sentry": {"dsn": "{SENTRY_DSN}"}},
        {"function": {"import": "myapp.trace", "name": "on_event"}},
        {"events": True},                                   # or {"events": {"type": ..., "events": [...]}}
        {"otel": {"endpoint": "http://collector:4318"}},    # OpenTelemetry spans (the otel extra)
        {"metrics": {"port": 9808}},                        # Prometheus metrics (the metrics extra)
    ]
    app.conf.selinon_trace_redact = [*DEFAULT_REDACT, "ssn"]         # a list replaces the default
    app.conf.selinon_trace_redact_values = [*DEFAULT_REDACT_VALUES, "ACME-[0-9]{8}"]  # the same
    app.conf.selinon_trace_events = {"exclude": ["TASK_SCHEDULE"]}  # or {"include": [...]}, or a list
    app.conf.selinon_trace_max_value_length = 2048
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core import catalogue
from ..core.placeholders import expand_env
from ..core.redact import Policy
from ..core.registry import Sink
from ..sinks.jsonl import JsonFileSink, JsonStreamSink
from ..sinks.logging import LoggingSink
from . import trace_forms
from .redaction import MAX_LENGTH_KEY, REDACT_KEY, REDACT_VALUES_KEY, load_policy

__all__ = ["KEYS", "TraceConfigError", "TraceSettings", "load_settings"]

SINKS_KEY = "selinon_trace"
EVENTS_KEY = "selinon_trace_events"
KEYS = (SINKS_KEY, REDACT_KEY, REDACT_VALUES_KEY, EVENTS_KEY, MAX_LENGTH_KEY)


class TraceConfigError(ValueError):
    """A tracing setting is wrong; the message names the setting and the entry."""


@dataclass(frozen=True)
class TraceSettings:
    """What ``install`` needs: the sinks to register, the events to mute and the details policy."""

    sinks: tuple[Sink, ...]
    muted: frozenset[int]
    policy: Policy


def _lookup(conf: Any, key: str) -> Any:
    # Plain key first; then the upper-case and Django-namespaced spellings, which Celery keeps
    # verbatim for settings it does not know.
    for name in (key, key.upper(), f"CELERY_{key.upper()}"):
        try:
            value = conf.get(name)
        except Exception:
            value = None
        if value is not None:
            return value
    return None


def _options(where: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if value is True:
        return {}
    if not isinstance(value, Mapping):
        raise TraceConfigError(f"{where}: expected true or a mapping of options, got {value!r}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise TraceConfigError(
            f"{where}: unknown option {unknown[0]!r} (allowed: {', '.join(sorted(allowed)) or 'none'})"
        )
    return dict(value)


def _import_function(where: str, options: Mapping[str, Any]) -> Sink:
    module_name, func_name = options.get("import"), options.get("name")
    if not isinstance(module_name, str) or not isinstance(func_name, str):
        raise TraceConfigError(f"{where}: needs 'import' (a module) and 'name' (a function in it) as strings")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise TraceConfigError(f"{where}: cannot import module {module_name!r}: {exc}") from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise TraceConfigError(f"{where}: module {module_name!r} has no callable {func_name!r}")
    return func  # type: ignore[no-any-return]


def _sentry(where: str, options: Mapping[str, Any], policy: Policy) -> Sink:
    from ..sinks.sentry import SentrySink

    dsn = options.get("dsn")
    if dsn is not None and not isinstance(dsn, str):
        raise TraceConfigError(f"{where}: 'dsn' must be a string")
    _needs_a_client(where, dsn)
    events = options.get("events")
    if events is not None and (isinstance(events, str) or not isinstance(events, (list, tuple))):
        raise TraceConfigError(f"{where}: 'events' must be a list of event names")
    breadcrumbs = options.get("breadcrumbs", True)
    if not isinstance(breadcrumbs, bool):
        raise TraceConfigError(f"{where}: 'breadcrumbs' must be true or false")
    timeout = options.get("shutdown_timeout", 1.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise TraceConfigError(f"{where}: 'shutdown_timeout' must be a number of seconds")
    local_variables = options.get("include_local_variables", False)
    if not isinstance(local_variables, bool):
        raise TraceConfigError(f"{where}: 'include_local_variables' must be true or false")
    try:
        return SentrySink(
            dsn,
            events=events,
            breadcrumbs=breadcrumbs,
            shutdown_timeout=float(timeout),
            include_local_variables=local_variables,
            policy=policy,
        )
    except ImportError as exc:
        raise TraceConfigError(f"{where}: {exc}") from exc
    except ValueError as exc:  # a {PLACEHOLDER} that is not set
        raise TraceConfigError(f"{where}: 'dsn': {exc}") from exc


def _needs_a_client(where: str, dsn: str | None) -> None:
    # Without a DSN the sink uses the application's Sentry client; with none active, failures would go
    # nowhere, silently. The worker installs tracing when it imports `imports`, before celeryd_init and
    # worker_init: a client initialised in those comes too late.
    from ..sinks.sentry.client import import_sentry

    try:
        if expand_env(dsn) if dsn else "":
            return
        active = bool(import_sentry().get_client().is_active())
    except ValueError as exc:  # a {PLACEHOLDER} that is not set
        raise TraceConfigError(f"{where}: 'dsn': {exc}") from exc
    except ImportError as exc:
        raise TraceConfigError(f"{where}: {exc}") from exc
    if not active:
        raise TraceConfigError(
            f"{where}: no 'dsn', and no Sentry client is active in this process: give a 'dsn' (such as "
            "'{SENTRY_DSN}'), or call sentry_sdk.init() before tracing is installed (in the module that "
            "creates the Celery app, or one listed in `imports` before selinon_celery_trace.auto)"
        )


def _json(where: str, options: Mapping[str, Any]) -> Sink:
    path = options.get("path")
    if path is None:
        return JsonStreamSink()
    if not isinstance(path, str) or not path:
        raise TraceConfigError(f"{where}: 'path' must be a file path string")
    try:
        return JsonFileSink(path)
    except OSError as exc:
        raise TraceConfigError(f"{where}: cannot open {path!r} for appending: {exc}") from exc


def _logging(where: str, options: Mapping[str, Any]) -> Sink:
    logger = options.get("logger")
    if logger is not None and not isinstance(logger, str):
        raise TraceConfigError(f"{where}: 'logger' must be a logger name")
    return LoggingSink(logger)


def _events(where: str, options: Mapping[str, Any]) -> Sink:
    # Imported here: the sink needs Celery's event dispatcher, and most configurations do not use it.
    from ..sinks.events import DEFAULT_EVENT_TYPE, DEFAULT_QUEUE_SIZE, CeleryEventSink

    event_type = options.get("type", DEFAULT_EVENT_TYPE)
    if not isinstance(event_type, str) or not event_type:
        raise TraceConfigError(f"{where}: 'type' must be a Celery event type name such as 'selinon-trace'")
    events = options.get("events")
    if events is not None:
        if isinstance(events, str) or not isinstance(events, (list, tuple)):
            raise TraceConfigError(f"{where}: 'events' must be a list of event names")
        _event_numbers(f"{where}.events", events)
    queue_size = options.get("queue_size", DEFAULT_QUEUE_SIZE)
    if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
        raise TraceConfigError(f"{where}: 'queue_size' must be a positive integer")
    from .runtime import runtime

    return CeleryEventSink(
        event_type=event_type,
        events=events,
        queue_size=queue_size,
        app_source=lambda: runtime.app,
        hostname_source=lambda: runtime.hostname,
    )


def _otel(where: str, options: Mapping[str, Any]) -> Sink:
    try:
        from ..sinks.otel.options import build_otel_sink
    except ImportError as exc:
        raise TraceConfigError(
            f"{where}: needs the 'otel' extra (selinon-celery-trace[otel]): {exc}"
        ) from exc
    try:
        return build_otel_sink(options)
    except (ValueError, ImportError) as exc:  # the message names the option
        raise TraceConfigError(f"{where}: {exc}") from exc


def _metrics(where: str, options: Mapping[str, Any]) -> Sink:
    try:
        from ..sinks.metrics.options import build_metrics_sink
    except ImportError as exc:
        raise TraceConfigError(
            f"{where}: needs the 'metrics' extra (selinon-celery-trace[metrics]): {exc}"
        ) from exc
    from .runtime import runtime

    try:
        return build_metrics_sink(options, app_source=lambda: runtime.app)
    except ValueError as exc:  # the message names the option
        raise TraceConfigError(f"{where}: {exc}") from exc


_BUILDERS: dict[str, tuple[set[str], Callable[[str, Mapping[str, Any]], Sink]]] = {
    "logging": ({"logger"}, _logging),
    "json": ({"path"}, _json),
    "function": ({"import", "name"}, _import_function),
    "events": ({"type", "events", "queue_size"}, _events),
    "otel": ({"endpoint", "service_name", "headers", "timeout", "shutdown_timeout"}, _otel),
    "metrics": ({"port", "addr", "multiproc_dir", "prefix", "queue_length_interval"}, _metrics),
}
# Sinks that also need the details policy (the Sentry sink masks what sentry-sdk itself collects).
_POLICY_BUILDERS: dict[str, tuple[set[str], Callable[[str, Mapping[str, Any], Policy], Sink]]] = {
    "sentry": ({"dsn", "events", "breadcrumbs", "shutdown_timeout", "include_local_variables"}, _sentry),
}


def build_sinks(value: Any, policy: Policy | None = None) -> tuple[Sink, ...]:
    """Build the sinks of a ``selinon_trace`` value, in Selinon's ``global.trace`` forms (see trace_forms).

    An entry with several sink names is several sinks, in the order written; a sink whose options are
    ``false`` or ``null`` adds nothing. ``policy``: the details policy, for sinks that mask what they
    collect themselves (Sentry).
    """
    try:
        found = trace_forms.entries(value, SINKS_KEY)
    except ValueError as exc:
        raise TraceConfigError(str(exc)) from None
    policy = policy if policy is not None else Policy()
    known = sorted({*_BUILDERS, *_POLICY_BUILDERS})
    sinks: list[Sink] = []
    for where, name, options in found:
        if name not in _BUILDERS and name not in _POLICY_BUILDERS:
            raise TraceConfigError(f"{where}: unknown sink {name!r} (known: {', '.join(known)})")
        if options is False or options is None:
            continue  # {"logging": False} switches a sink off, as in Selinon
        at = f"{where}.{name}"
        if name in _POLICY_BUILDERS:
            allowed, build_with = _POLICY_BUILDERS[name]
            sinks.append(build_with(at, _options(at, options, allowed), policy))
        else:
            allowed, build = _BUILDERS[name]
            sinks.append(build(at, _options(at, options, allowed)))
    return tuple(sinks)


def _event_numbers(where: str, names: Any) -> frozenset[int]:
    try:
        return catalogue.numbers(names)
    except ValueError as exc:
        raise TraceConfigError(f"{where}: {exc}") from None


def muted_events(value: Any) -> frozenset[int]:
    """Return the events to drop for a ``selinon_trace_events`` value."""
    if value is None:
        return frozenset()
    every = {spec.number for spec in catalogue.EVENTS}
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"include", "exclude"})
        if unknown:
            raise TraceConfigError(f"{EVENTS_KEY}: unknown key {unknown[0]!r} (allowed: exclude, include)")
        included = _event_numbers(f"{EVENTS_KEY}.include", value["include"]) if "include" in value else every
        excluded = _event_numbers(f"{EVENTS_KEY}.exclude", value.get("exclude", ()))
        return frozenset(every - (included - excluded))
    return frozenset(every - _event_numbers(EVENTS_KEY, value))


def load_settings(conf: Any) -> TraceSettings:
    """Validate the tracing settings of ``conf`` (an ``app.conf``) and build the sinks.

    Raises :class:`TraceConfigError` naming the offending setting and entry.
    """
    unknown = sorted(
        key
        for key in _keys(conf)
        if key.lower().removeprefix("celery_").startswith("selinon_trace")
        and key.lower().removeprefix("celery_") not in KEYS
    )
    if unknown:
        raise TraceConfigError(f"{unknown[0]}: unknown setting (known: {', '.join(KEYS)})")

    try:
        policy = load_policy(lambda key: _lookup(conf, key))
    except ValueError as exc:  # the message names the setting and the entry
        raise TraceConfigError(str(exc)) from None
    muted = muted_events(_lookup(conf, EVENTS_KEY))
    sinks = build_sinks(_lookup(conf, SINKS_KEY), policy)
    return TraceSettings(sinks=sinks, muted=muted, policy=policy)


def _keys(conf: Any) -> list[str]:
    try:
        return [key for key in conf if isinstance(key, str)]
    except Exception:
        return []
