"""``python -m soakkit`` runs the command line."""

from soakkit.cli import main

raise SystemExit(main())
