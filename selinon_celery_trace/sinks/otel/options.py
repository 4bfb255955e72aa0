"""The OpenTelemetry sink's options, checked: each error names the option it is about.

``{"otel": {...}}`` takes ``endpoint`` (an OTLP/HTTP URL; ``{ENV_VAR}`` placeholders expanded),
``service_name``, ``headers`` (a mapping of strings, placeholders expanded: an API key stays in the
environment), ``timeout`` and ``shutdown_timeout`` (seconds). The Celery adapter turns a ``ValueError``
raised here into a ``TraceConfigError`` naming the sink's entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...core.placeholders import expand_env
from . import DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_TIMEOUT, OtelSink

__all__ = ["build_otel_sink"]


def _seconds(options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 300:
        raise ValueError(f"{key!r} must be a number of seconds, above 0 and at most 300")
    return float(value)


def _expanded(key: str, value: str) -> str:
    try:
        return expand_env(value)
    except ValueError as exc:  # a {PLACEHOLDER} that is not set
        raise ValueError(f"{key!r}: {exc}") from None


def build_otel_sink(options: Mapping[str, Any]) -> OtelSink:
    """An :class:`OtelSink` from the options of its ``selinon_trace`` entry."""
    endpoint = options.get("endpoint")
    if endpoint is not None:
        if not isinstance(endpoint, str) or not endpoint:
            raise ValueError("'endpoint' must be an OTLP/HTTP URL such as 'http://collector:4318'")
        endpoint = _expanded("endpoint", endpoint)
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError("'endpoint' must be an http:// or https:// URL (OTLP over HTTP)")
    service_name = options.get("service_name")
    if service_name is not None and (not isinstance(service_name, str) or not service_name):
        raise ValueError("'service_name' must be a non-empty string")
    headers = options.get("headers")
    if headers is not None:
        if not isinstance(headers, Mapping) or not all(
            isinstance(name, str) and isinstance(value, str) for name, value in headers.items()
        ):
            raise ValueError("'headers' must be a mapping of header names to string values")
        headers = {name: _expanded("headers", value) for name, value in headers.items()}
    timeout = _seconds(options, "timeout", DEFAULT_TIMEOUT)
    shutdown_timeout = _seconds(options, "shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT)
    if endpoint is not None or headers is not None:
        try:  # needed only by the provider the sink makes itself, but say so now, not at the first task
            import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401
        except ImportError as exc:
            key = "endpoint" if endpoint is not None else "headers"
            raise ValueError(
                f"{key!r} needs opentelemetry-exporter-otlp-proto-http (the 'otel' extra): {exc}"
            ) from exc
    return OtelSink(
        endpoint,
        service_name=service_name,
        headers=headers,
        timeout=timeout,
        shutdown_timeout=shutdown_timeout,
    )
