"""``python -m datacanary`` runs the command-line interface."""

from __future__ import annotations

from datacanary.cli import main

main()
