"""A result backend for fault tests: Redis, except that storing fails in the worker's pool processes.

As when Redis restarts and only the pool processes' connections are broken (how the double report of
issue 25 was first seen): the task's process cannot store its result, the worker's main process can.
Configured as ``result_backend = "tests.reliability.backends:ChildFailingRedisBackend+redis://..."``.
"""

from __future__ import annotations

from typing import Any

from billiard.process import current_process
from celery.backends.redis import RedisBackend
from redis.exceptions import ConnectionError as RedisConnectionError

__all__ = ["ChildFailingRedisBackend", "child_failing"]


def child_failing(redis_url: str) -> str:
    """The ``result_backend`` setting of this backend on ``redis_url``."""
    return f"{__name__}:ChildFailingRedisBackend+{redis_url}"


class ChildFailingRedisBackend(RedisBackend):
    """Every result stored from a pool process fails as Redis would with a dead connection."""

    def _store_result(self, task_id: Any, result: Any, state: Any, *args: Any, **kwargs: Any) -> Any:
        if current_process().name != "MainProcess":
            raise RedisConnectionError("Error 111 connecting to redis (fault injected in pool processes)")
        return super()._store_result(task_id, result, state, *args, **kwargs)
