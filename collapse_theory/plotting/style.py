"""One consistent, colour-blind-safe figure style (Okabe-Ito palette) and deterministic saving."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

# No backend is forced here, so notebooks keep their inline backend and show each figure; the files are the
# same under any backend (savefig renders PNG with Agg and PDF with the pdf backend). The headless entry points
# (collapse_theory.gallery, the CLI) select Agg themselves.

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

RC = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO),
    "svg.hashsalt": "collapse_theory",
}


def new_figure(ncols: int = 1, width: float = 5.2, height: float = 3.6, **kwargs):
    """A figure with ``ncols`` axes in the project style."""
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), constrained_layout=True, **kwargs)
    return fig, axes


def save_figure(fig, stem: str | os.PathLike) -> list[Path]:
    """Save ``stem``.png and ``stem``.pdf deterministically (no timestamps or version strings in the files),
    each written to a temporary file first and moved into place (atomic)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for ext, metadata in ((".png", {"Software": None}), (".pdf", {"Creator": None, "Producer": None,
                                                                  "CreationDate": None})):
        target = stem.with_suffix(ext)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=ext, dir=target.parent)
        os.close(fd)
        os.chmod(tmp, 0o644)
        try:
            with plt.rc_context(RC):
                fig.savefig(tmp, metadata=metadata)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    plt.close(fig)
    return written
