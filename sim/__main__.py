"""`python -m sim` is the same program as the `negsim` console script."""

from sim.cli import main

raise SystemExit(main())
