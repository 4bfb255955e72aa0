"""The example's Celery configuration: an ordinary one, plus two settings that turn tracing on.

Nothing in the tasks or the dispatcher calls the tracer. The worker imports the modules listed in
``imports`` when it starts; ``selinon_celery_trace.auto`` is one of them, and it installs tracing from
``selinon_trace``: every event goes to the worker's log (the ``logging`` sink) and, as one JSON object
per line, to ``<state>/trace.jsonl`` (the ``json`` sink with a path), which ``selinon-trace`` reads.
"""

from __future__ import annotations

from typing import Any

from example_project.settings import Settings

__all__ = ["celery_config"]


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration for ``settings``."""
    documents, media = settings.queues
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "result_backend": settings.result_backend,
        "result_expires": 3600,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": documents,
        "task_routes": {"example.thumbnail": {"queue": media}},
        # The tasks are short and the worker runs on this machine: hand out one message at a time so
        # both pool processes work in parallel.
        "worker_prefetch_multiplier": 1,
        # Tracing, by configuration only.
        "imports": ["selinon_celery_trace.auto", "example_project.tasks"],
        "selinon_trace": [
            {"logging": True},
            {"json": {"path": str(settings.trace_file)}},
        ],
    }
    if settings.embedded:
        # kombu's filesystem transport: a message is a file. Producers write to data_folder_out and
        # consumers read data_folder_in, so one folder serves both sides; processed files are deleted.
        # example_project.broker is that transport with messages written atomically (see there).
        config["broker_transport"] = "example_project.broker:Transport"
        folder = str(settings.broker_dir / "queue")
        config["broker_transport_options"] = {
            "data_folder_in": folder,
            "data_folder_out": folder,
            "control_folder": str(settings.broker_dir / "control"),
            "processed_folder": str(settings.broker_dir / "processed"),
            "store_processed": False,
            "polling_interval": 0.1,  # the default (1 s) makes every step of a flow wait a second
        }
    return config
