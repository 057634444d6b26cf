"""``python -m imitlab.cli``: the same as the ``imitlab`` command."""

from imitlab.cli import main

main()
