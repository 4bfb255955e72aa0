"""The commands, the CLI's last stage: the click commands that read the input and print a view.

One module per command (``summary``, ``show``, ``timeline``, ``find``, ``follow``, ``watch``), with what
they share: the trace files they read (``inputs``), the filter options (``filter_options``, and
``scope_options``: ``--since``/``--until``/``--task``/``--queue``) and the consoles (``settings``).
``selinon_celery_trace.cli`` gathers them into the ``selinon-trace`` group.
"""
