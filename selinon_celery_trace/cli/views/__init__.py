"""The views, the CLI's third stage: the model drawn for a person to read.

One coloured line per event (``render``, ``event_messages``), the ``show`` trees (``tree_view``,
``canvas_view``, ``task_lines``), the ``summary`` tables (``summary_view``), the ``timeline`` page
(``timeline`` and its template ``timeline.html``), and what they share (``formatting``,
``outcome_style``). Imports the model and reading stages, never click: the commands print what these return.
"""
