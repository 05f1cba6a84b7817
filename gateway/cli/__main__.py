"""`python -m gateway.cli ...`: the `deflect` command, as `deflect serve` starts its worker and scheduler
processes (with the same interpreter and configuration)."""

from gateway.cli import main

main()
