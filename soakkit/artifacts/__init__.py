"""What a soak leaves on disk and where: the artifacts root, run folders, their files.

* :mod:`soakkit.artifacts.layout` – the layout and file-name grammar, the artifacts root
  (:func:`~soakkit.artifacts.layout.resolve_artifacts`), run ids, readers and the schema
  check of ``ITER_SUMMARY`` documents (``schemas/``);
* :mod:`soakkit.artifacts.iterlog` – the per-run iteration log ``iterations.jsonl``;
* :mod:`soakkit.artifacts.iterlog_table` – the same log as ``iterations.parquet``.
"""
