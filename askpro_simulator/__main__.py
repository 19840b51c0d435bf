"""`python -m askpro_simulator`: the same as the `askpro-demo` command."""

from askpro_simulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
