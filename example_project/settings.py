"""Where the example keeps its things, read from environment variables as a deployed app would be.

The runner (``python -m example_project``) sets these variables, and the ``celery worker`` it starts
inherits them, so both processes build the same app:

- ``EXAMPLE_STATE_DIR``: the state directory (default ``example_project/state``): the embedded broker's
  folders, the result files, the trace file and the logs.
- ``EXAMPLE_BROKER_URL``: ``filesystem://`` (default: the embedded broker, no server) or a real broker
  such as ``redis://localhost:6379/0``.
- ``EXAMPLE_RESULT_BACKEND``: default ``file://<state>/results`` (no server), or the Redis URL when the
  broker is Redis.
- ``EXAMPLE_QUEUE_PREFIX``: prepended to the queue names, so runs sharing one broker stay apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["DEFAULT_STATE_DIR", "EMBEDDED_BROKER", "Settings"]

DEFAULT_STATE_DIR: Final = Path(__file__).resolve().parent / "state"
EMBEDDED_BROKER: Final = "filesystem://"

_STATE_ENV: Final = "EXAMPLE_STATE_DIR"
_BROKER_ENV: Final = "EXAMPLE_BROKER_URL"
_BACKEND_ENV: Final = "EXAMPLE_RESULT_BACKEND"
_PREFIX_ENV: Final = "EXAMPLE_QUEUE_PREFIX"


@dataclass(frozen=True)
class Settings:
    """The example's deployment settings; every path derives from ``state_dir``."""

    state_dir: Path = DEFAULT_STATE_DIR
    broker_url: str = EMBEDDED_BROKER
    result_backend: str = ""
    queue_prefix: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "state_dir", Path(self.state_dir).resolve())
        if not self.result_backend:
            object.__setattr__(
                self, "result_backend", default_result_backend(self.broker_url, self.state_dir)
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Read the settings from ``env`` (missing variables take their defaults)."""
        return cls(
            state_dir=Path(env.get(_STATE_ENV) or DEFAULT_STATE_DIR),
            broker_url=env.get(_BROKER_ENV) or EMBEDDED_BROKER,
            result_backend=env.get(_BACKEND_ENV) or "",
            queue_prefix=env.get(_PREFIX_ENV) or "",
        )

    def to_env(self) -> dict[str, str]:
        """The environment variables that make :meth:`from_env` return these settings."""
        return {
            _STATE_ENV: str(self.state_dir),
            _BROKER_ENV: self.broker_url,
            _BACKEND_ENV: self.result_backend,
            _PREFIX_ENV: self.queue_prefix,
        }

    @property
    def embedded(self) -> bool:
        """True for the embedded broker (kombu's filesystem transport in the state directory)."""
        return self.broker_url.startswith("filesystem:")

    @property
    def queues(self) -> tuple[str, str]:
        """The pipeline's queues: everything runs on ``documents`` except thumbnails (``media``)."""
        return (f"{self.queue_prefix}documents", f"{self.queue_prefix}media")

    @property
    def broker_dir(self) -> Path:
        """The embedded broker's folders (messages, exchange bindings)."""
        return self.state_dir / "broker"

    @property
    def results_dir(self) -> Path:
        """Where the ``file://`` result backend keeps task results."""
        return self.state_dir / "results"

    @property
    def trace_file(self) -> Path:
        """The JSON-lines trace every process of the example appends to."""
        return self.state_dir / "trace.jsonl"

    @property
    def worker_log(self) -> Path:
        """The worker's log: Celery's own lines and the tracer's logging sink."""
        return self.state_dir / "worker.log"


def default_result_backend(broker_url: str, state_dir: Path) -> str:
    """Redis keeps results where it keeps messages; any other broker uses the ``file://`` backend."""
    if broker_url.startswith(("redis://", "rediss://", "redis+socket://")):
        return broker_url
    return f"file://{Path(state_dir).resolve() / 'results'}"
