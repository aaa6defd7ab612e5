"""``python -m ganscope`` runs the CLI."""

from ganscope.cli import main

main()
