"""``python -m gateway.cli``, as ``carnet``."""

from gateway.cli import main

main()
