"""verify's table: every line within its width, full check names, each pre-registered decision shown with its
effect, CI, p and seeds (a decision is a result: it never turns the exit status non-zero); --threads validated."""

import pytest

from collapse_theory.cli import main
from collapse_theory.cli.verify import WIDTH


def test_table_fits_its_width_and_shows_the_decisions(capsys):
    code = main(["verify", "--tier", "numeric", "--claim", "C-RF", "--no-progress"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert code == 0
    assert max(len(line) for line in lines) <= WIDTH
    assert "velocity-fit-reflow-n256" in out and "velocity-fit-reflow-n32" in out  # names never cut
    block = out.split("Decisions (pre-registered", 1)[1]
    assert block.count("decision: ") == 2 and "64 seeds" in block and "effect " in block and "Holm" in block


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_threads_must_be_a_positive_integer(value, capsys):
    try:
        code = main(["verify", "--tier", "symbolic", "--threads", value])
    except SystemExit as exc:  # argparse's own type error
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--threads" in err[0]
