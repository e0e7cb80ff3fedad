"""The ``collapse-theory`` command line: :mod:`.shell` holds the one parser, error type, flag map and ``main``;
one module per command family (:data:`.shell.COMMAND_MODULES`) registers its subcommands."""

from .shell import main

__all__ = ["main"]
