"""``collapse-theory``: a thin command-line shell over the library.

Sub-commands:
  verify     run the claims registry's checks and print a table (exit 1 if any check does not pass)
  claims     list the registered claims with provenance and statements
  figures    regenerate the figures and figures/MANIFEST.csv
  reproduce  the main job: verify, figures and a report (report.md)
  dae        run a population DAE recursion and print it as a table, CSV or JSON
  train-dae  train DAEs recursively on their own outputs (torch) beside the closed form; tidy CSV + manifest
  gaussian-reflow, toy-reflow, reflow   the Reflow family (closed forms, 2-D toy, image scale)
  data       data prepare (build the MNIST/Fashion-MNIST archives from the official files), data info

Bad input prints one line on stderr (``collapse-theory: error: ...``) and exits with status 2; a diverging run
(NaN/Inf loss) prints one line and exits with status 3.

How to add a command family (the protocol):

1. Write ``collapse_theory/cli/<family>.py`` with ``register(subparsers) -> None``. It adds its sub-commands with
   ``subparsers.add_parser(name, help=...)`` (the shell's parser class gives every sub-parser one-line errors,
   ``allow_abbrev=False`` and the defaults in ``--help``) and ``parser.set_defaults(handler=run)``, where
   ``run(args) -> int`` returns the exit status. Import heavy libraries (torch, pandas) inside ``run``.
2. Append ``"<family>"`` to :data:`COMMAND_MODULES` below; the shell imports the modules in that order.
3. Bad input: raise :class:`ValueError` whose message starts with the argument's name, either the flag
   (``"--out ..."``) or the library's name for it (``"sigma2 must be > 0"``): the shell maps an argument's
   ``dest`` to its flag, from argparse itself; names the library uses that differ from the dest are recorded at the
   argument with :func:`collapse_theory.cli.arguments.also_named`. Comma lists are read with
   :func:`collapse_theory.cli.arguments.parse_list`, output paths checked before any work with
   ``check_output_file`` / ``check_output_dir``. A command module never imports this module.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import warnings
from typing import Sequence

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3

COMMAND_MODULES = ["verify", "report", "gaussian", "toy", "reflow", "train_dae", "dae", "laws", "data"]
"""Command-family modules of this package, imported in this order; each has ``register(subparsers)``."""


class BadInput(Exception):
    """The shell's one error type: bad command-line input (argparse's errors and ValueError alike end here)."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows each default, except the uninformative None/False of optional flags and switches."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump, :class:`BadInput`), ``allow_abbrev=False`` (``--jso`` is
    not ``--json``), defaults shown in ``--help``, and comma lists starting with a negative number
    (``--sigma2 -1,0.1``) read as values, so that their range check names the flag."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        # argparse reads '-1,0.1' as an unknown option (only '-1' or '-.5' count as numbers); no flag of this tool
        # starts with '-<digit>', so every such token is a value.
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message: str):  # noqa: D401 - argparse API
        raise BadInput(message)


def build_parser() -> Parser:
    """The one parser: every module of :data:`COMMAND_MODULES` registers its sub-commands."""
    parser = Parser(prog="collapse-theory", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").register(sub)
    parser.commands = sub.choices  # sub-command name -> its parser
    return parser


def _subparser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser | None:
    return getattr(parser, "commands", {}).get(command)


def flag_map(parser: argparse.ArgumentParser, command: str | None = None) -> dict[str, str]:
    """Argument names -> flags, derived from argparse: each option's ``dest`` (and the library names recorded with
    ``also_named``) -> its long option string, for the sub-command ``command`` (or ``parser`` itself)."""
    target = _subparser(parser, command) if command else parser
    if target is None:
        return {}
    flags: dict[str, str] = {}
    for action in target._actions:  # argparse keeps the arguments here; read-only use
        if isinstance(action.choices, dict):  # nested sub-commands (e.g. data prepare / data info)
            for nested in action.choices.values():
                for name, flag in flag_map(nested).items():
                    flags.setdefault(name, flag)
        if not action.option_strings or action.dest == "help":
            continue
        flag = next((s for s in action.option_strings if s.startswith("--")), action.option_strings[0])
        for name in (action.dest, *getattr(action, "library_names", ())):
            flags.setdefault(name, flag)
    return flags


def one_line_message(message: str, flags: dict[str, str]) -> str:
    """``message`` on one line, prefixed with the flag when it starts with an argument name of ``flags``
    (``"sigma2 must be > 0"`` -> ``"--sigma2: sigma2 must be > 0"``; ``"name: ..."`` too)."""
    message = " ".join(str(message).split())
    first = message.split(" ", 1)[0].rstrip(":,")
    if first in flags:  # name the flag too: "--spectrum: eigenvalues must be >= 0, ..."
        message = f"{flags[first]}: {message}"
    return message


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command's handler; returns the exit status."""
    parser = build_parser()
    args = None
    try:
        args = parser.parse_args(argv)
        with warnings.catch_warnings():  # overflow shows as one error line (results are checked), not as warnings
            warnings.filterwarnings("ignore", category=RuntimeWarning,
                                    message=r".*(overflow|invalid value|divide by zero|underflow)")
            return args.handler(args)
    except FloatingPointError as exc:  # a diverged run (NaN/Inf loss or weights)
        print(f"collapse-theory: stopped: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_DIVERGED
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly
        sys.stdout = open(os.devnull, "w")
        return 0
    except (BadInput, ValueError) as exc:
        message = one_line_message(str(exc), flag_map(parser, getattr(args, "command", None)))
        print(f"collapse-theory: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # a write that failed after the checks (disk full, permissions changed)
        where = f" {exc.filename!r}" if exc.filename else ""
        print(f"collapse-theory: error: cannot access{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
