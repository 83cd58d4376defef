"""The legacy spelling of ``soakkit rotate``.

    python -m soakkit.rotation --path artifacts/soak --ttl-days 7 --max-size-mb 900
"""

from soakkit.cli.rotate import legacy_main

raise SystemExit(legacy_main())
