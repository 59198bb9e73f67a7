"""``python -m leadgen``: the same as the ``leadgen`` command."""

from leadgen.cli.main import main

main()
