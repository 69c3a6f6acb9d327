"""``python -m xdub`` runs the command line."""

from xdub.cli import main

raise SystemExit(main())
