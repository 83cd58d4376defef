"""The foundation every other package stands on; it imports nothing else of soakkit.

* :mod:`soakkit.core.errors` – the exception hierarchy, exit codes and the one message path;
* :mod:`soakkit.core.io` – atomic writes (temp, fsync, rename, fsync dir), appends and the
  injectable UTC clock (the only module that reads the wall clock);
* :mod:`soakkit.core.inputs` – the one strict number parser, bounds and path checks;
* :mod:`soakkit.core.json_canonical` – canonical JSON bytes;
* :mod:`soakkit.core.json_strict` – strict JSON reading (no NaN, no duplicate keys);
* :mod:`soakkit.core.digests` – sha256 digests;
* :mod:`soakkit.core.locks` – file locks;
* :mod:`soakkit.core.collector` – pausing the garbage collector where nothing makes cycles;
* :mod:`soakkit.core.signals` – Ctrl-C/SIGTERM and the one error path of every command;
* :mod:`soakkit.core.tables` – the one table style (HTML and terminal);
* :mod:`soakkit.core.schema` – the compiled JSON Schema check for documents read in bulk.
"""
