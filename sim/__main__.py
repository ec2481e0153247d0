"""`python -m sim` is the same program as the `negsim` console script."""

from sim.cli import console_main

console_main()
