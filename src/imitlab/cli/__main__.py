"""`python -m imitlab.cli` runs the command line, as the `imitlab` script does."""

from imitlab.cli import main

main()
