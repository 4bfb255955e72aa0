"""``python -m selinon_celery_trace``: the ``selinon-trace`` command line."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
