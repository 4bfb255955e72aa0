"""The Celery app of the example, configured from the environment (see :mod:`example_project.settings`).

Run a worker yourself with the settings the runner uses::

    EXAMPLE_STATE_DIR=/tmp/ex celery -A example_project.app worker -Q documents,media

Tracing is enabled in :mod:`example_project.celeryconfig` and nowhere else.
"""

from __future__ import annotations

from celery import Celery

from example_project.celeryconfig import celery_config
from example_project.settings import Settings

__all__ = ["app"]

app = Celery("example_project")
app.conf.update(celery_config(Settings.from_env()))
