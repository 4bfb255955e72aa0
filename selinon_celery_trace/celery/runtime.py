"""Per-process state of the Celery adapters: the app, the worker's node name, the details policy.

One instance, :data:`runtime`, set by ``install``; the hooks read it. Facts of one task class (its
name, app, queues) live in that class's tracer wrapper instead (see :mod:`.execution`).
"""

from __future__ import annotations

import os
import signal as signals_module
import threading
from typing import Any, Final

from ..core.arguments import sanitize_arguments
from ..core.redact import Policy, exception_text, sanitize
from .queues import resolve_queue

__all__ = ["EMPTY_ARGS", "Runtime", "only_json", "runtime", "signal_name"]

EMPTY_ARGS: Final[dict[str, Any]] = {"args": [], "kwargs": {}}
# Characters past a cut still searched for secrets, so that one straddling the cut is masked whole.
_MARGIN: Final = 4096


class _Periodic(threading.local):
    """The beat entry this thread is sending (see :mod:`.beat`): the TASK_SCHEDULE's ``periodic``."""

    def __init__(self) -> None:
        self.entry: dict[str, Any] | None = None


class Runtime:
    """What the adapters know of this process (one instance: :data:`runtime`)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.app: Any = None
        self.hostname: str | None = None  # the worker's node name (celery@host), once a worker starts
        self.pid = os.getpid()
        self.policy = Policy()
        # True while every sink encodes details with orjson at once and keeps nothing (see hooks.sync):
        # arguments are then handed over encoded once, as an orjson.Fragment, and an attempt's
        # terminal event extends the dict its start event had.
        self.encoded_args = False
        # True while a sink uses queue waits (``wants_queue_wait``): TASK_* details then carry queue_wait
        # (from the publish time every tracing process stamps on its messages: see context.SENT).
        self.queue_waits = False
        # True while a sink reads or writes the task message (``uses_message``; see record.message_scope).
        self.message_sinks = False
        # True in a process where celery beat sends entries; the publish hook then reads ``periodic``.
        self.beat = False
        self.periodic = _Periodic()
        self._queues: dict[tuple[Any, ...], str] = {}

    def queue_of(self, app: Any, exchange: Any, routing_key: Any, consuming: bool) -> str | None:
        """Resolve the queue a message went to; ``None`` when unsure.

        Found names are memoised (a binding that matched keeps matching); misses are not, since a
        queue may be declared later.
        """
        key: tuple[Any, ...] = (id(app), exchange, routing_key, consuming)
        try:
            return self._queues[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable exchange object
            key = ()
        try:
            name = resolve_queue(app.amqp.queues, exchange, routing_key, consuming)
        except Exception:
            return None
        if name is not None:
            remember(self._queues, key, name)
        return name

    def node_args(self, args: Any, kwargs: Any) -> Any:
        """The arguments as JSON-safe, redacted, truncated data (to keep, as a flow's state does)."""
        if not args and not kwargs:
            return EMPTY_ARGS
        return sanitize_arguments(args, kwargs, self.policy)

    def event_args(self, args: Any, kwargs: Any) -> Any:
        """The arguments for one event's details: pre-encoded when every sink only encodes (see sync)."""
        if not args and not kwargs:
            return EMPTY_ARGS
        return sanitize_arguments(args, kwargs, self.policy, self.encoded_args)

    def text(self, value: Any) -> Any:
        """``value`` as the details policy bounds and masks it (a string as free text: see ``message``)."""
        if type(value) is str:
            policy = self.policy
            limit = policy.max_length
            if len(value) <= limit:
                return policy.message(value)
            return policy.text(policy.message(value[: limit + _MARGIN]))[:limit] + (
                f"...[truncated {len(value) - limit} chars]"
            )
        return sanitize(value, self.policy)

    def exception(self, exc: BaseException) -> str:
        """An exception as ``Type(args...)``, masked and bounded, without running its own code."""
        return exception_text(exc, self.policy)

    def traceback(self, text: Any) -> str | None:
        """A traceback for the details, masked: the end says what failed, so a long one keeps its tail.

        The traceback is Celery's text or ``traceback``'s (which calls the exception's ``__str__``
        once, as Celery's own failure handling and log do); secrets in it are masked by value and
        as ``key=value`` pairs (:meth:`Policy.message`).
        """
        if not isinstance(text, str):
            return None if text is None else self.text(str(text))
        policy = self.policy
        limit = policy.max_length * 4
        if len(text) <= limit:
            return policy.message(text)
        tail = policy.message(text[-(limit + _MARGIN) :])[-limit:]
        return f"...[truncated {len(text) - limit} chars]{tail}"


runtime: Final = Runtime()


def _refresh_pid() -> None:
    runtime.pid = os.getpid()


os.register_at_fork(after_in_child=_refresh_pid)


def remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    """Keep a fact found for ``key`` (``()`` stands for an unhashable key: not kept), in a bounded memo."""
    if key != ():
        if len(memo) > 1024:
            memo.clear()
        memo[key] = value


def only_json(app: Any) -> bool:
    """True when ``app``'s workers accept JSON messages only (``accept_content``, Celery's default)."""
    try:
        accept = list(app.conf.accept_content or ())
        return bool(accept) and all(
            isinstance(kind, str) and kind.lower() in ("json", "application/json") for kind in accept
        )
    except Exception:
        return False


def signal_name(number: int | None, *, unnamed: bool = False) -> str | None:
    """``SIGKILL`` for 9; None for None. A number this platform has no name for: None, or with
    ``unnamed`` ``signal N``."""
    if number is None:
        return None
    try:
        return signals_module.Signals(number).name
    except ValueError:
        return f"signal {number}" if unnamed else None
