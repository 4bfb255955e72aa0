"""Queue lengths for the metrics sink: the worker's main process asks the broker, on a thread, at an interval.

What celery-exporter users expect beside task counts: how many messages wait in each queue the worker
consumes (``selinon_queue_length{queue}``). Nothing in the trace events says so; only the broker knows.
So the worker's main process (the sink's ``on_worker_start``) starts a daemon thread that, every
``interval`` seconds, opens (once, then keeps) a connection of its own from the app's broker settings
(``app.connection_for_read``, heartbeats off: nothing here would answer them) and asks:

- Redis: ``LLEN`` of each queue's list and of its priority lists (kombu keeps priorities 3, 6, 9 in
  keys suffixed ``\\x06\\x16<priority>``), in one pipeline, summed;
- RabbitMQ (and other transports): a passive ``queue_declare``, whose ``message_count`` is the number
  of messages ready (not those delivered and unacknowledged).

The queues are the ones the worker consumes, read at every sample (``app.amqp.queues.consume_from``, so
``celery control add_consumer`` is followed). Celery's event loop never waits on this: the broker is
asked from this thread only, a connection attempt bounded by 5 s; a broker that does not answer costs a
log line at debug level and a retry at the next interval, never an exception in the worker.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any, Final

__all__ = ["QueueSampler", "queue_names"]

LOGGER: Final = logging.getLogger("selinon_celery_trace.metrics")
_TIMEOUT: Final = 5.0  # seconds one connection attempt or one answer may take


def queue_names(app: Any) -> list[str]:
    """The names of the queues a worker of ``app`` consumes (all declared ones outside a worker)."""
    queues = app.amqp.queues
    selected = getattr(queues, "consume_from", None) or queues
    return sorted(str(name) for name in list(selected))


def _redis_lengths(channel: Any, names: Iterable[str]) -> dict[str, int]:
    """LLEN of each queue's list and its priority lists (kombu's keys), summed per queue."""
    steps = list(getattr(channel, "priority_steps", None) or [0])
    sep = getattr(channel, "sep", "\x06\x16")
    names = list(names)
    with channel.client.pipeline() as pipe:
        for name in names:
            for step in steps:
                pipe.llen(f"{name}{sep}{step}" if step else name)
        answers = pipe.execute()
    lengths = {}
    for index, name in enumerate(names):
        counts = answers[index * len(steps) : (index + 1) * len(steps)]
        lengths[name] = sum(count for count in counts if isinstance(count, int))
    return lengths


class QueueSampler:
    """The thread that samples queue lengths into ``record(queue, length)``; one per worker."""

    def __init__(self, interval: float, record: Callable[[str, int], None]) -> None:
        self.interval = interval
        self.record = record
        self.app_source: Callable[[], Any] = lambda: None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: Any = None
        self._pid = os.getpid()
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        # The parent's thread and connection are the parent's: a pool process never samples.
        self._thread, self._connection, self._stop = None, None, threading.Event()

    def start(self) -> None:
        """Start sampling now and every ``interval`` seconds (in the worker's main process)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="selinon-metrics-queues", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (waiting for it a little) and close its connection."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join(timeout=_TIMEOUT)
        self._thread = None

    def _run(self) -> None:
        stop = self._stop
        while not stop.is_set():
            try:
                self.sample()
            except Exception as exc:  # the broker is away, or this transport cannot tell
                LOGGER.debug("selinon_celery_trace: cannot sample queue lengths: %r", exc)
                self._close()
            stop.wait(self.interval)
        self._close()

    def sample(self) -> dict[str, int]:
        """Ask the broker once; record and return each consumed queue's length."""
        app = self.app_source()
        if app is None:
            return {}
        names = queue_names(app)
        if not names:
            return {}
        connection = self._connect(app)
        if getattr(connection.transport, "driver_type", None) == "redis":
            lengths = _redis_lengths(connection.default_channel, names)
        else:
            lengths = self._declared_lengths(connection, names)
        for name, length in lengths.items():
            self.record(name, length)
        return lengths

    def _declared_lengths(self, connection: Any, names: list[str]) -> dict[str, int]:
        from kombu.exceptions import ChannelError

        lengths = {}
        channel = connection.channel()
        try:
            for name in names:
                try:
                    answer = channel.queue_declare(queue=name, passive=True)
                except ChannelError:  # no such queue (yet): the broker closed the channel
                    _close_quietly(channel)
                    channel = connection.channel()
                    continue
                count = getattr(answer, "message_count", None)
                if isinstance(count, int):
                    lengths[name] = count
        finally:
            _close_quietly(channel)
        return lengths

    def _connect(self, app: Any) -> Any:
        connection = self._connection
        if connection is None:
            connection = app.connection_for_read(heartbeat=0, connect_timeout=_TIMEOUT)
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=_TIMEOUT)
            self._connection = connection
        return connection

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.release()
            except Exception:
                pass


def _close_quietly(channel: Any) -> None:
    try:
        channel.close()
    except Exception:
        pass
