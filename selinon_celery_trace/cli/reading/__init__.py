"""Reading, the CLI's first stage: trace records out of files, lines, a followed file or the broker.

Trace files as records (``lines``, ``files``, ``tail``), the events ``watch`` receives (``broker``), a
detail's value read defensively (``fields``), the names of the events read (``event_names``) and the
filter that keeps some records (``filters``). Imports nothing of the later stages (model, views, commands).
"""
