"""`python -m slipway` runs the `slipway` command."""

from slipway.cli import main

main()
