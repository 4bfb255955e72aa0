"""A document pipeline on Celery, traced by configuration only: try it with ``python -m example_project``.

- :mod:`example_project.settings`: where things are (state directory, broker, result backend), read
  from environment variables as a deployed app would be.
- :mod:`example_project.celeryconfig`: the Celery configuration. Tracing is enabled there and nowhere
  else: ``imports`` lists ``selinon_celery_trace.auto`` and ``selinon_trace`` names the sinks.
- :mod:`example_project.app`: the Celery app (``celery -A example_project.app worker``).
- :mod:`example_project.tasks`: the pipeline (fetch -> parse -> index + thumbnail -> publish -> notify)
  and the ``document_flow`` dispatcher that drives it.
- :mod:`example_project.runner` (``python -m example_project``): starts a real ``celery worker``
  (:mod:`example_project.worker`), submits three documents, shows the trace live as the worker writes
  it (:mod:`example_project.live`), prints a summary and stops the worker.
"""
