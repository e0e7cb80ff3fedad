"""``collapse-theory data``: the offline image archives without ``../shared``.

    collapse-theory data prepare --dataset fashion --from ~/Downloads/fashion   # official IDX files (or .gz)
    collapse-theory data prepare --dataset mnist --from ~/torchvision-root     # torchvision's MNIST/raw layout
    collapse-theory data info                                                  # where each data set is looked up

``prepare`` builds the .npz archive the loaders read (:func:`collapse_theory.data.archives.build_archive`) and
writes it to ``--out`` (a file or folder), by default where the loaders look without ``--data-path``:
``$COLLAPSE_THEORY_DATA``, else ``<repo>/../shared/data``; an existing archive is replaced only with ``--force``.
``info`` lists, per data set, the places looked up in order and whether the archive is present
(:func:`collapse_theory.data.archives.data_info`).
"""

from __future__ import annotations

import json

from .arguments import also_named, check_output_file


def register(subparsers) -> None:
    """Add ``data`` with its sub-commands ``prepare`` and ``info``."""
    data = subparsers.add_parser("data", help="build the MNIST/Fashion-MNIST archives from the official files; "
                                              "say where each data set is looked up")
    inner = data.add_subparsers(dest="data_command", required=True, metavar="{prepare,info}",
                                parser_class=type(data))
    prepare = inner.add_parser("prepare", help="build the .npz archive from the official IDX files")
    prepare.add_argument("--dataset", required=True, help="fashion | mnist")
    also_named(prepare.add_argument("--from", dest="source", required=True, metavar="DIR",
                                    help="folder with train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                                         "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz] (or its raw/, "
                                         "or a torchvision root with MNIST/raw or FashionMNIST/raw)"), "from")
    prepare.add_argument("--out", default=None, metavar="PATH",
                         help="the archive file, or a folder for it (default: $COLLAPSE_THEORY_DATA, else "
                              "../shared/data next to the repository)")
    prepare.add_argument("--force", action="store_true", help="replace an archive that exists already")
    prepare.set_defaults(handler=run_prepare)
    info = inner.add_parser("info", help="where each data set is looked up, and whether it is present")
    info.add_argument("--data-path", default=None, help="a --data-path to look up first, as the commands do")
    info.add_argument("--json", action="store_true", help="print JSON records")
    info.set_defaults(handler=run_info)


def run_prepare(args) -> int:
    """Build the archive; print its path and size."""
    import numpy as np

    from ..data.archives import archive_path, build_archive, check_archive_dataset, find_idx_files

    key = check_archive_dataset(args.dataset)
    find_idx_files(key, args.source)  # the input first (cheap), then the output path, then the work
    target = archive_path(key, args.out)
    check_output_file(str(target))
    if target.exists() and not args.force:
        raise ValueError(f"--out {str(target)!r} exists already; pass --force to replace it (or --out elsewhere)")
    try:
        path = build_archive(key, args.source, target)
    except OSError as exc:
        raise ValueError(f"--out {str(target)!r} cannot be written: {exc.strerror or exc}") from None
    with np.load(path, allow_pickle=False) as archive:
        n = archive["labels"].shape[0]
    print(f"data prepare: {n} images of {key} -> {path}")
    return 0


def run_info(args) -> int:
    """Print where each data set is looked up and whether it is present."""
    from ..data.archives import data_info

    records = data_info(args.data_path)
    if args.json:
        print(json.dumps(records, indent=2, allow_nan=False))
        return 0
    for r in records:
        state = {True: "present", False: "MISSING", None: "not checked"}[r["present"]]
        count = f", {r['images']} images" if r["images"] is not None and r["present"] else ""
        print(f"{r['dataset']}: {state}{count} — {r['source']}")
        if r["path"]:
            print(f"    reads {r['path']}")
        for place in r["looked_up"]:
            print(f"    looks in {place}")
    return 0
