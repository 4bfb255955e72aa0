"""Pool processes that died (the worker's main process): WORKER_PROCESS_LOST.

Celery sends no signal when a prefork pool process dies; billiard's pool finds it in
``Pool._join_exited_workers`` (on the process's exit, and every few seconds) and, when it was running a
task, fails that task with ``WorkerLostError`` through ``Pool.mark_as_worker_lost`` (which
:mod:`.failures` reports as the attempt's TASK_FAILURE). Named hooks on those two methods report the
process:

- ``mark_as_worker_lost``: the process died while it ran a task: its pid, exit code or signal, and the
  task (from the job's correlation id, the task id, and the worker's active requests for its name);
- ``_join_exited_workers``: any other process that exited with an error code or a signal while idle.

Processes ended on purpose are not lost and are left out: recycled ones (``worker_max_tasks_per_child``,
``worker_max_memory_per_child``: exit codes 0 and ``EX_RECYCLE``), ones killed for a hard time limit
(a hook on billiard's ``TimeoutHandler._trywaitkill`` marks them; the task's TASK_FAILURE says
``TimeLimitExceeded``), for ``revoke(terminate=True)`` (TASK_REVOKED says so) or to shrink the pool
(billiard marks both as a controlled termination), and every process once the pool is shutting down.
"""

from __future__ import annotations

from typing import Any, Final

from ..core.handoff import emit_in_background
from ..core.registry import report_internal_error, wants
from ..trace import Trace
from . import patching
from .runtime import runtime, signal_name

__all__ = ["patch_pool", "unpatch_pool"]

_EVENT: Final = Trace.WORKER_PROCESS_LOST
_KILLED: Final = "_selinon_trace_killed"  # set on a process the pool killed for a hard time limit
_reported: set[int] = set()  # pids reported with their task, until their exit is joined
_EX_RECYCLE: Final = 0x9B  # billiard.pool.EX_RECYCLE


def _report(process_pid: Any, exitcode: Any, task_id: Any) -> None:
    number = exitcode if type(exitcode) is int else None
    killed_by = -number if number is not None and number < 0 else None
    details = {
        "hostname": runtime.hostname,
        "pid": runtime.pid,
        "process_pid": process_pid if type(process_pid) is int else None,
        "exitcode": number,
        "signal": signal_name(killed_by, unnamed=True),
        "task_name": _task_name(task_id),
        "task_id": task_id if isinstance(task_id, str) else None,
    }
    emit_in_background(_EVENT, details)


def _task_name(task_id: Any) -> str | None:
    if task_id is None:
        return None
    from celery.worker import state  # the worker's requests (this runs in a worker only)

    for request in list(state.active_requests):
        if getattr(request, "id", None) == task_id:
            name = getattr(request, "name", None)
            return name if isinstance(name, str) else None
    return None


def _marking_lost(original: Any) -> Any:
    def mark_as_worker_lost(self: Any, job: Any, exitcode: Any) -> Any:
        try:
            if wants(_EVENT):
                pid = getattr(job, "_worker_pid", None)
                _report(pid, exitcode, getattr(job, "correlation_id", None))
                if type(pid) is int:
                    _reported.add(pid)
        except Exception as exc:
            report_internal_error("Pool.mark_as_worker_lost hook", exc)
        return original(self, job, exitcode)

    return mark_as_worker_lost


def _joining(original: Any) -> Any:
    def _join_exited_workers(self: Any, shutdown: bool = False) -> Any:
        before = list(getattr(self, "_pool", ()))
        try:
            return original(self, shutdown)
        finally:
            if len(getattr(self, "_pool", ())) < len(before) or _reported:
                _joined(self, before, shutdown)

    return _join_exited_workers


def _joined(pool: Any, before: list[Any], shutdown: bool) -> None:
    """Report the processes that left the pool in this call and were neither reported nor ended on purpose."""
    try:
        from billiard.pool import RUN

        remaining = {id(process) for process in pool._pool}
        pending = _pending_lost(pool)
        for process in before:
            if id(process) in remaining:
                continue
            pid = getattr(process, "pid", None)
            if pid in _reported:
                continue
            if pid in pending or not wants(_EVENT):
                continue  # billiard's own pool fails its task later: mark_as_worker_lost reports it
            if shutdown or getattr(pool, "_state", RUN) != RUN or _on_purpose(process):
                continue
            exitcode = getattr(process, "exitcode", None)
            if exitcode is None or exitcode in (0, _EX_RECYCLE):
                continue
            _report(pid, exitcode, None)
    except Exception as exc:
        report_internal_error("Pool._join_exited_workers hook", exc)
    finally:
        # Marked in this call (the prefork pool fails a lost task while joining its process), or in a
        # later one for a process joined before (billiard's own pool waits first): either way done.
        _reported.clear()


def _pending_lost(pool: Any) -> set[Any]:
    cache = getattr(pool, "_cache", None)
    jobs = list(cache.values()) if isinstance(cache, dict) else []
    return {getattr(job, "_worker_pid", None) for job in jobs if getattr(job, "_worker_lost", None)}


def _on_purpose(process: Any) -> bool:
    return bool(getattr(process, "_controlled_termination", False) or getattr(process, _KILLED, False))


def _marking_killed(original: Any) -> Any:
    def _trywaitkill(self: Any, worker: Any) -> Any:
        try:
            setattr(worker, _KILLED, True)
        except Exception:
            pass
        return original(self, worker)

    return _trywaitkill


def patch_pool() -> None:
    """Hook billiard's pool (the prefork pool's base class) and its time-limit handler."""
    from billiard.pool import Pool, TimeoutHandler

    patching.hook(Pool, "mark_as_worker_lost", _marking_lost)
    patching.hook(Pool, "_join_exited_workers", _joining)
    patching.hook(TimeoutHandler, "_trywaitkill", _marking_killed)


def unpatch_pool() -> None:
    """Undo :func:`patch_pool`."""
    from billiard.pool import Pool, TimeoutHandler

    patching.unhook(Pool, "mark_as_worker_lost")
    patching.unhook(Pool, "_join_exited_workers")
    patching.unhook(TimeoutHandler, "_trywaitkill")
