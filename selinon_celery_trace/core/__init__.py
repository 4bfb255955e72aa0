"""The trace core: the event catalogue, records and their JSON, redaction, and the registry of sinks.

Pure Python with no Celery import (a test checks it), so anything can emit trace events: the Celery
adapters above it, a user's own code through :class:`selinon_celery_trace.Trace`, or a script.
"""

__version__ = "0.1.0"
"""The package's version (pyproject.toml reads it from here)."""
