"""``python -m wheelship``."""

from wheelship.cli import main

raise SystemExit(main())
