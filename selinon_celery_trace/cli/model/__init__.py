"""The model, the CLI's second stage: what the records say happened, folded into runs and tallies.

A flow or a task rebuilt as a tree (``runs``, found by ``collector``), a Celery canvas workflow (its
facts, its tasks, their arrangement: ``canvas_*``, ``canvas``), which of them an id means (``lookup``),
and the statistics of ``summary`` in bounded memory (``summary``, ``canvas_summary``,
``duration_sketch``). Imports the reading stage only; nothing here draws or prints.
"""
