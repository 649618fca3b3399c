"""``python -m gateway``: the same as the ``cpni-gateway`` command."""

from gateway.cli import main

main()
