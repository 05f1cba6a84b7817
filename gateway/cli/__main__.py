"""`python -m gateway.cli ...`: how `deflect serve` starts its worker and scheduler processes."""

from gateway.cli import main

main()
