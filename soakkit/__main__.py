"""``python -m soakkit`` runs the command line."""

from soakkit.cli import console

console()
