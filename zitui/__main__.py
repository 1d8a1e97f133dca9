"""Allows `python -m zitui`."""

from zitui.cli import main

raise SystemExit(main())
