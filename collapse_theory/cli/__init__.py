"""The ``collapse-theory`` command line: :mod:`.shell` holds the one parser, error type and ``main``;
one module per command family holds its subcommands."""

from .shell import main

__all__ = ["main"]
