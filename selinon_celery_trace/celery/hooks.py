"""Every Celery hook the adapters use, in one table to connect and disconnect, and what turns them on.

Why each hook exists:

- ``before_task_publish`` (any process): TASK_SCHEDULE and the outgoing flow context (:mod:`.publish`);
- the task tracer (the process running the task): TASK_START and the attempt's end (:mod:`.execution`);
- ``task_retry`` / ``task_failure``, and the worker ``Request``'s failure methods (:mod:`.failures`);
- ``worker_init``: the worker's node name, for every event's ``hostname``; sinks that start something in
  the worker's main process before the pool forks (the metrics sink's ``/metrics`` server) do it there,
  in their ``on_worker_start()``;
- ``worker_process_shutdown``: sinks that buffer are flushed before a pool process exits (it does not
  run ``atexit``);
- ``worker_ready`` (the worker's main process): one log line saying what it traces to (:mod:`.announce`);
- a message's fate outside an attempt, in the worker's main process: ``task_revoked`` (TASK_REVOKED,
  TASK_EXPIRED: :mod:`.revocations`), ``task_unknown`` / ``task_rejected`` and the consumer's decode
  errors (TASK_REJECTED: :mod:`.rejections`), a dead pool process (WORKER_PROCESS_LOST: :mod:`.processes`);
- the worker's life: ``worker_ready``, ``worker_shutting_down`` and its stop (WORKER_ONLINE /
  WORKER_OFFLINE: :mod:`.lifecycle`);
- celery beat: ``beat_init`` and its scheduler's sends (BEAT_START, BEAT_LATE, ``periodic``: :mod:`.beat`).

Those run only on rare paths (never for a task that runs), are connected (and their named hooks put in
place: :data:`PATCHES`) by ``install``, and emit nothing while no sink wants their event.

Every receiver catches its own errors at the boundary: the user's task never sees them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Final

from celery import signals

from ..core import handoff, registry
from ..core.arguments import EMBEDS_ENCODED
from ..core.registry import report_internal_error
from ..trace import Trace
from . import announce, beat, execution, lifecycle, processes, rejections
from .failures import on_task_failure, on_task_retry
from .publish import on_before_task_publish
from .revocations import on_task_revoked
from .runtime import runtime

__all__ = ["ALWAYS", "PATCHES", "WORKER", "connect", "disconnect", "patch", "stop", "sync", "unpatch"]

HANDOFF_EXIT_TIMEOUT: Final = 2.0  # seconds a pool process's exit waits for handed-off events

TASK_EVENTS: Final = frozenset(
    {Trace.TASK_START, Trace.TASK_END, Trace.TASK_DISCARD_RESULT, Trace.TASK_FAILURE, Trace.TASK_RETRY}
)


def on_worker_init(sender: Any = None, **_: Any) -> None:
    """Remember this worker's node name (``celery@host``); hook the worker; let sinks start what it needs."""
    try:
        patch(_WORKER_MODULES)
    except Exception as exc:
        report_internal_error("worker_init receiver", exc)
    hostname = getattr(sender, "hostname", None)
    if isinstance(hostname, str):
        runtime.hostname = hostname
    for sink in registry.sinks():
        start = getattr(sink, "on_worker_start", None)
        if callable(start):
            try:
                start()
            except BaseException as exc:  # a sink's code: contained as in registry.emit
                if registry.must_escape(exc):
                    raise
                report_internal_error("worker_init receiver", exc)


def on_worker_process_shutdown(**_: Any) -> None:
    """Deliver handed-off events, then flush sinks that buffer (Sentry, the events sink), before exit."""
    handoff.flush(HANDOFF_EXIT_TIMEOUT)  # a pool process leaves by os._exit: no atexit runs there
    for sink in registry.sinks():
        flush = getattr(sink, "flush", None)
        if callable(flush):
            try:
                flush()
            except BaseException as exc:  # a sink's code: contained as in registry.emit
                if registry.must_escape(exc):
                    raise
                report_internal_error("worker_process_shutdown receiver", exc)


Receiver = Callable[..., None]
ALWAYS: Final[tuple[tuple[Any, Receiver], ...]] = (
    (signals.before_task_publish, on_before_task_publish),
    (signals.worker_init, on_worker_init),
    (signals.worker_process_shutdown, on_worker_process_shutdown),
    (signals.worker_ready, announce.on_worker_ready),
    (signals.task_revoked, on_task_revoked),
    (signals.task_unknown, rejections.on_task_unknown),
    (signals.task_rejected, rejections.on_task_rejected),
    (signals.worker_ready, lifecycle.on_worker_ready),
    (signals.worker_shutting_down, lifecycle.on_worker_shutting_down),
    (signals.beat_init, beat.on_beat_init),
)
PATCHES: Final[tuple[tuple[str, Callable[[], None], Callable[[], None]], ...]] = (
    ("celery.worker.consumer.consumer", rejections.patch_consumer, rejections.unpatch_consumer),
    ("billiard.pool", processes.patch_pool, processes.unpatch_pool),
    ("celery.worker.worker", lifecycle.patch_worker, lifecycle.unpatch_worker),
    ("celery.beat", beat.patch_scheduler, beat.unpatch_scheduler),
)
"""The named hooks on Celery's and billiard's methods where no signal tells (see each module), each with
the module it hooks. ``install`` hooks the modules already imported; a worker imports the rest before
``worker_init`` (:func:`on_worker_init` hooks them then), ``celery beat`` imports ``celery.beat`` before
it installs, and beat's ``beat_init`` hooks it too: a process that only publishes never imports them."""
_WORKER_MODULES: Final = ("celery.worker.consumer.consumer", "billiard.pool", "celery.worker.worker")
WORKER: Final[tuple[tuple[Any, Receiver], ...]] = (
    (signals.task_retry, on_task_retry),
    (signals.task_failure, on_task_failure),
)


def _uid(receiver: Receiver) -> str:
    # The module too: two receivers of one signal may share a name (announce's and lifecycle's
    # on_worker_ready), and one dispatch_uid would connect only the first.
    return f"{receiver.__module__}.{receiver.__qualname__}"


def connect(table: tuple[tuple[Any, Receiver], ...]) -> None:
    """Connect every receiver of ``table`` strongly; connecting again is harmless (``dispatch_uid``)."""
    for signal, receiver in table:
        signal.connect(receiver, weak=False, dispatch_uid=_uid(receiver))


def disconnect(table: tuple[tuple[Any, Receiver], ...]) -> None:
    """Disconnect every receiver of ``table``."""
    for signal, receiver in table:
        signal.disconnect(receiver, dispatch_uid=_uid(receiver))


def patch(modules: tuple[str, ...] = ()) -> None:
    """Put the named hooks of :data:`PATCHES` in place: on ``modules``, and on any already imported.

    Idempotent.
    """
    for module, put, _remove in PATCHES:
        if module in modules or module in sys.modules:
            put()


def unpatch() -> None:
    """Take every named hook of :data:`PATCHES` out (a module never imported was never hooked)."""
    for module, _put, remove in PATCHES:
        if module in sys.modules:
            remove()


def sync() -> None:
    """Trace task execution only while a sink wants a TASK_* event (so tracing off costs nothing).

    Called whenever the sinks or the muted events change (``registry.watch``).
    """
    tracing = any(registry.wants(event) for event in TASK_EVENTS)
    execution.switch(tracing)
    # A sink added while an attempt runs may see that attempt's arguments still encoded: rare, and an
    # orjson.Fragment is still their JSON text.
    runtime.encoded_args = EMBEDS_ENCODED and all(
        getattr(sink, "encodes_details", False) is True for sink in registry.sinks()
    )
    sinks = registry.sinks()
    runtime.queue_waits = any(getattr(sink, "wants_queue_wait", False) is True for sink in sinks)
    runtime.message_sinks = any(getattr(sink, "uses_message", False) is True for sink in sinks)
    if tracing:
        connect(WORKER)
    else:
        disconnect(WORKER)


def stop() -> None:
    """Stop tracing task execution (uninstall): the worker receivers and the tracer wrappers."""
    execution.switch(False)
    disconnect(WORKER)
