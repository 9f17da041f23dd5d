"""`python -m monitor` is the `outwatch` command."""

from monitor.cli import main

raise SystemExit(main())
