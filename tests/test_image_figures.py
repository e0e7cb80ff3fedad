"""The image Reflow vs RA figures: collecting run folders, the committed data files, deterministic plots, gallery
entries and input errors. Fast: hand-made run folders, never the real pipeline."""

import hashlib
import io
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from collapse_theory.experiments import image_reflow as img
from collapse_theory import gallery
from collapse_theory.plotting import image_reflow as image_figures
from collapse_theory.plotting.style import save_figure

SAMPLERS = (("euler1", 1), ("euler4", 4), ("euler16", 16), ("dopri5", 62))
IMAGE_IDS = ("image-reflow-fd-rounds", "image-reflow-fd-nfe", "image-reflow-samples")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COLLAPSE_THEORY_CACHE", str(tmp_path / "cache"))


def fake_run(folder, method, alpha, rounds=2, samplers=SAMPLERS, fid=False, scale="smoke", dataset="digits",
             n_grid=64, shape=(8, 8, 1), seed=0):
    """A run folder in the pipeline's layout with hand-made metrics and sample grids."""
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"config": {"scale": scale, "method": method,
                                                                 "real_fraction": alpha, "dataset": dataset}}))
    rows = []
    for k in range(rounds + 1):
        base = dict(dataset=dataset, method=method, real_fraction=alpha, seed=seed, round=k)
        for s, nfe in samplers:
            fd = 60.0 / nfe + 5.0 + (0.3 * k if method == "reflow" else 0.0)
            rows.append(dict(base, sampler=s, nfe=nfe, metric=f"FD-{dataset}net", value=fd, n_samples=297,
                             real_vs_real=1.0))
            rows.append(dict(base, sampler=s, nfe=nfe, metric=f"KID-{dataset}net", value=fd / 50, n_samples=297,
                             real_vs_real=-0.05))
            if fid:
                rows.append(dict(base, sampler=s, nfe=nfe, metric="FID", value=10 * fd, n_samples=297,
                                 real_vs_real=8.0))
            rows.append(dict(base, sampler=s, nfe=nfe, metric="recon_mse", value=0.1 / nfe, n_samples=128,
                             real_vs_real=np.nan))
        rows.append(dict(base, sampler="heun", nfe=0, metric="straightness", value=0.1 / (k + 1), n_samples=128,
                         real_vs_real=np.nan))
        rows.append(dict(base, sampler="-", nfe=0, metric="train_loss", value=0.5 / (k + 1), n_samples=15,
                         real_vs_real=np.nan))
        rng = np.random.default_rng([seed, k, len(method)])
        grids = {s: rng.integers(0, 256, size=(n_grid,) + shape, dtype=np.uint8) for s, _ in samplers}
        (folder / "samples").mkdir(exist_ok=True)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **grids)
        (folder / "samples" / f"round_{k}.npz").write_bytes(buffer.getvalue())
    pd.DataFrame(rows, columns=img.BASE_COLUMNS).to_csv(folder / "metrics.csv", index=False)
    return folder


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    return [fake_run(root / "reflow", "reflow", 0.0), fake_run(root / "ra", "ra", 0.5)]


@pytest.fixture
def collected(runs):
    return img.collect_image_results(runs)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_base_columns_match_the_pipeline():
    from collapse_theory.train.image.evaluate import METRIC_COLUMNS

    assert img.BASE_COLUMNS == list(METRIC_COLUMNS)
    assert img.COLUMNS == ["run", "scale"] + list(METRIC_COLUMNS)


def test_collect_concatenates_metrics_and_picks_round0_and_last_grids(runs, collected):
    metrics, samples = collected
    assert list(metrics.columns) == img.COLUMNS
    assert list(metrics["run"].unique()) == ["reflow", "ra"] and set(metrics["scale"]) == {"smoke"}
    assert len(metrics) == 2 * len(pd.read_csv(runs[0] / "metrics.csv"))
    assert sorted(samples) == ["ra__round0", "ra__round2", "reflow__round0", "reflow__round2"]
    with np.load(runs[1] / "samples" / "round_2.npz") as archive:
        np.testing.assert_array_equal(samples["ra__round2"], archive["euler16"])   # euler16 preferred
    assert all(g.dtype == np.uint8 and g.shape == (64, 8, 8, 1) for g in samples.values())
    assert {g["sampler"] for g in metrics.attrs["grids"]} == {"euler16"}
    assert [r["run"] for r in metrics.attrs["runs"]] == ["reflow", "ra"]


def test_collect_falls_back_to_the_largest_euler_nfe(tmp_path):
    run = fake_run(tmp_path / "r", "reflow", 0.0, rounds=1, samplers=(("euler2", 2), ("euler8", 8), ("dopri5", 40)))
    metrics, samples = img.collect_image_results([run])
    with np.load(run / "samples" / "round_1.npz") as archive:
        np.testing.assert_array_equal(samples["r__round1"], archive["euler8"])
    assert {g["sampler"] for g in metrics.attrs["grids"]} == {"euler8"}


def test_choose_sampler():
    assert img.choose_sampler(["euler1", "euler16", "euler32"]) == "euler16"
    assert img.choose_sampler(["euler1", "euler8", "euler2", "dopri5"]) == "euler8"
    assert img.choose_sampler(["dopri5"]) == "dopri5"
    with pytest.raises(ValueError, match="^names must"):
        img.choose_sampler([])


def test_default_run_dirs_include_gpu_results_when_present(tmp_path, runs):
    assert img.default_run_dirs(runs[0].parent, tmp_path / "no-gpu") == [runs[0].parent / "reflow",
                                                                         runs[0].parent / "ra"]
    gpu = tmp_path / "gpu"
    fake_run(gpu / "fashion-small" / "reflow", "reflow", 0.0, rounds=1, scale="small", dataset="fmnist",
             shape=(4, 4, 1))
    found = img.default_run_dirs(runs[0].parent, gpu)
    assert found[-1] == gpu / "fashion-small" / "reflow" and len(found) == 3
    metrics, samples = img.collect_image_results(found)
    # clashing folder names are made unique with the parent folder's name
    assert list(metrics["run"].unique()) == ["runs-reflow", "ra", "fashion-small-reflow"]
    assert set(metrics["scale"]) == {"smoke", "small"}
    assert "fashion-small-reflow__round1" in samples


def test_write_and_read_round_trip(tmp_path, collected):
    metrics, samples = collected
    paths = img.write_image_results(metrics, samples, tmp_path / "data")
    assert [p.name for p in paths] == list(img.FILES.values())
    back, grids = img.read_image_results(tmp_path / "data")
    pd.testing.assert_frame_equal(back, metrics.reset_index(drop=True), check_dtype=False)
    assert sorted(grids) == sorted(samples)
    for key in samples:
        assert grids[key].dtype == np.uint8
        np.testing.assert_array_equal(grids[key], samples[key])
    side = json.loads((tmp_path / "data" / "image-reflow-metrics.csv.manifest.json").read_text())
    assert [r["run"] for r in side["config"]["runs"]] == ["reflow", "ra"]
    grid_index = json.loads((tmp_path / "data" / "image-reflow-samples.npz.manifest.json").read_text())
    assert {g["key"] for g in grid_index["config"]["grids"]} == set(samples)
    assert back.attrs["grids"] == metrics.attrs["grids"]
    assert not [p for p in (tmp_path / "data").iterdir() if p.name.endswith(".tmp")]


def test_read_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="^data_dir must hold .*image-reflow-metrics.csv.* is missing"):
        img.read_image_results(tmp_path)


def test_samples_table_round_trip(collected):
    metrics, samples = collected
    table = img.samples_table(metrics, samples)
    assert list(table.columns) == img.SAMPLE_COLUMNS
    assert len(table) == 4 * 64 and set(table["sampler"]) == {"euler16"} and set(table["nfe"]) == {16}
    back = img.grids_from_table(table)
    for key in samples:
        np.testing.assert_array_equal(back[key], samples[key])
    # the grid index recovered from the metrics alone (no attrs) gives the same table
    bare = metrics.copy()
    bare.attrs = {}
    pd.testing.assert_frame_equal(img.samples_table(bare, samples), table)


def test_figure_tables(collected):
    metrics, _ = collected
    rounds = img.fd_rounds_table(metrics)
    assert set(rounds["metric"]) == {"FD-digitsnet"} and sorted(rounds["round"].unique()) == [0, 1, 2]
    nfe = img.fd_nfe_table(metrics)
    assert sorted(nfe["round"].unique()) == [0, 2]
    assert "recon_mse" not in set(nfe["metric"])


def _render_twice(plot, frame, tmp_path, name):
    frame.to_csv(tmp_path / f"{name}.csv", index=False)
    first = save_figure(plot(pd.read_csv(tmp_path / f"{name}.csv")), tmp_path / "a" / name)
    second = save_figure(plot(pd.read_csv(tmp_path / f"{name}.csv")), tmp_path / "b" / name)
    return first, second


@pytest.mark.parametrize("figure_id", IMAGE_IDS)
def test_plots_are_deterministic_png_and_pdf(figure_id, collected, tmp_path):
    metrics, samples = collected
    frame = {"image-reflow-fd-rounds": img.fd_rounds_table(metrics), "image-reflow-fd-nfe": img.fd_nfe_table(metrics),
             "image-reflow-samples": img.samples_table(metrics, samples)}[figure_id]
    first, second = _render_twice(gallery.FIGURES[figure_id].plot, frame, tmp_path, figure_id)
    assert [p.suffix for p in first] == [".png", ".pdf"]
    for a, b in zip(first, second):
        assert a.stat().st_size > 5_000
        assert _digest(a) == _digest(b), a.name


def _texts(fig):
    out = [fig._suptitle.get_text() if fig._suptitle else ""]
    for ax in fig.axes:
        out += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
    for legend in fig.legends:
        out += [t.get_text() for t in legend.get_texts()]
    return " | ".join(out)


def test_labels_name_the_extractor_and_never_fid_without_fid_rows(collected):
    metrics, _ = collected
    for plot, table in ((image_figures.plot_fd_rounds, img.fd_rounds_table(metrics)),
                        (image_figures.plot_fd_nfe, img.fd_nfe_table(metrics))):
        fig = plot(table)
        text = _texts(fig)
        assert "FD (digitsnet features)" in text and "FID" not in text
        assert "real vs real" in text and "round" in text.lower()
        plt.close(fig)
    fig = image_figures.plot_fd_rounds(img.fd_rounds_table(metrics))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["Euler, 1 step (NFE 1)", "Euler, 16 steps (NFE 16)", "dopri5 (adaptive, NFE 62)"]
    floors = [line for line in fig.axes[0].get_lines() if line.get_linestyle() == "--"]
    assert floors and floors[0].get_ydata()[0] == 1.0
    plt.close(fig)
    fig = image_figures.plot_fd_nfe(img.fd_nfe_table(metrics))
    assert fig.axes[0].get_xscale() == "log"
    plt.close(fig)


def test_fid_rows_get_their_own_panels_labelled_fid(tmp_path):
    run = fake_run(tmp_path / "r", "reflow", 0.0, rounds=1, fid=True)
    metrics, _ = img.collect_image_results([run])
    fig = image_figures.plot_fd_rounds(img.fd_rounds_table(metrics))
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert len(fig.axes) == 2 * 3
    assert labels.count("FD (digitsnet features)") == 3 and labels.count("FID (Inception-v3 features)") == 3
    plt.close(fig)


def test_samples_figure_titles_name_method_alpha_round_sampler(collected):
    metrics, samples = collected
    fig = image_figures.plot_samples(img.samples_table(metrics, samples))
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 4
    assert titles[0] == "Reflow, round 0 (1-RF)\nEuler, 16 steps (NFE 16)"
    assert titles[3] == "RA, α = 0.5, round 2\nEuler, 16 steps (NFE 16)"
    assert [ax.get_ylabel() for ax in fig.axes[::2]] == ["Reflow", "RA, α = 0.5"]
    image = fig.axes[0].get_images()[0].get_array()
    assert image.shape == (8 * 9 + 1, 8 * 9 + 1)       # 8 x 8 tiles of 8 x 8 pixels with 1-pixel gaps
    plt.close(fig)


def test_gallery_entries_exist_with_claims_and_quick_variants():
    from collapse_theory.claims import registry

    ids = {c.id for c in registry.claims()}
    for figure_id in IMAGE_IDS:
        spec = gallery.FIGURES[figure_id]
        assert {"C-RF", "C-RA"} <= set(spec.claims) <= ids
        assert "experiments.image_reflow" in spec.data_command and spec.quick_params == img.QUICK_FIGURE
        assert spec.quick_params.committed and not spec.params.committed


def test_quick_mode_reads_the_data_files_and_never_trains(tmp_path, monkeypatch, collected):
    metrics, samples = collected
    img.write_image_results(metrics, samples, tmp_path / "committed")
    monkeypatch.setattr(img, "DATA_DIR", tmp_path / "committed")

    def no_training(*args, **kwargs):
        raise AssertionError("quick mode must not train")

    monkeypatch.setattr(img, "run_smoke_image_runs", no_training)
    manifest = gallery.build_figures(tmp_path / "out", only=list(IMAGE_IDS), quick=True)
    assert list(manifest["figure_id"]) == list(IMAGE_IDS)
    assert manifest["data_command"].str.contains("SmokeFigure(committed=True)", regex=False).all()
    for figure_id in IMAGE_IDS:
        assert (tmp_path / "out" / f"{figure_id}.png").exists() and (tmp_path / "out" / f"{figure_id}.pdf").exists()
        side = json.loads((tmp_path / "out" / "data" / f"{figure_id}.csv.manifest.json").read_text())
        assert "no training" in side["config"]["how"]
    monkeypatch.setattr(img, "DATA_DIR", tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="data_dir must hold the committed image results"):
        img.fd_rounds_frame(quick=True)


def test_full_mode_runs_then_collects(tmp_path, monkeypatch):
    calls = []

    def fake_runs(runs_dir, progress=True, **kwargs):
        calls.append(runs_dir)
        for method, alpha in (("reflow", 0.0), ("ra", 0.5)):
            if not (runs_dir / method).exists():
                fake_run(runs_dir / method, method, alpha)

    monkeypatch.setattr(img, "DEFAULT_RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(img, "GPU_RESULTS_DIR", tmp_path / "gpu")
    monkeypatch.setattr(img, "run_smoke_image_runs", fake_runs)
    monkeypatch.setattr(img, "default_run_dirs", lambda *a: [tmp_path / "runs" / "reflow", tmp_path / "runs" / "ra"])
    img._full_results.cache_clear()
    try:
        frame = img.fd_nfe_frame()
        again = img.samples_frame()            # cached: the runs are made once per process
    finally:
        img._full_results.cache_clear()
    assert calls == [tmp_path / "runs"]
    assert set(frame["run"]) == {"reflow", "ra"} and len(again) == 4 * 64
    assert frame.attrs["run_manifest"]["command"].endswith("fd_nfe_frame(SmokeFigure())")


def test_committed_data_files_are_readable():
    metrics, samples = img.read_image_results()
    assert set(metrics["method"]) == {"reflow", "ra"}
    assert set(metrics["real_fraction"]) == {0.0, 0.5}
    assert any(m.startswith("FD-") for m in metrics["metric"].unique())
    assert {"ra__round0", "reflow__round0"} <= set(samples)
    # the RA run started from the Reflow run's round 0: identical round-0 rows and samples
    r0 = metrics[metrics["round"] == 0]
    cols = ["sampler", "metric", "value"]
    pd.testing.assert_frame_equal(r0[r0["run"] == "reflow"][cols].reset_index(drop=True),
                                  r0[r0["run"] == "ra"][cols].reset_index(drop=True))
    np.testing.assert_array_equal(samples["ra__round0"], samples["reflow__round0"])


@pytest.mark.parametrize("call, message", [
    (lambda: img.collect_image_results([]), "^run_dirs must name at least one run folder"),
    (lambda: img.collect_image_results(["/nonexistent/run"]), "^run_dirs must name run folders"),
    (lambda: img.collect_image_results(42), "^run_dirs must be a list"),
    (lambda: img.write_image_results("not a frame", {}), "^metrics must be a pandas DataFrame"),
    (lambda: img.write_image_results(pd.DataFrame({"run": [1]}), {}), "^metrics must have the columns"),
    (lambda: img.run_smoke_image_runs(rounds=0), "^rounds must be an integer >= 1"),
    (lambda: img.run_smoke_image_runs(seed=-1), "^seed must be an integer >= 0"),
    (lambda: img.run_smoke_image_runs(runs_dir=3), "^runs_dir must be a folder path"),
    (lambda: img.run_smoke_image_runs(method="ora"), "^method is set by run_smoke_image_runs"),
    (lambda: image_figures.plot_fd_rounds([1, 2]), "^data must be a pandas DataFrame"),
    (lambda: image_figures.plot_fd_nfe(pd.DataFrame({"run": ["a"]})), "^data must have the columns"),
    (lambda: image_figures.plot_samples(pd.DataFrame(columns=image_figures.SAMPLE_COLUMNS)),
     "^data must hold at least one row"),
])
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bad_samples_and_samplers_name_the_argument(collected, tmp_path):
    metrics, samples = collected
    with pytest.raises(ValueError, match="^samples keys must look like"):
        img.write_image_results(metrics, {"no-round": samples["ra__round0"]}, tmp_path)
    with pytest.raises(ValueError, match=r"^samples\['ra__round0'\] must be a uint8 array"):
        img.write_image_results(metrics, {"ra__round0": samples["ra__round0"].astype(float)}, tmp_path)
    with pytest.raises(ValueError, match="^samplers must be a non-empty list"):
        image_figures.plot_fd_rounds(img.fd_rounds_table(metrics), samplers=["euler99"])
    fd_only = img.fd_rounds_table(metrics)
    with pytest.raises(ValueError, match="^data must hold FD-<net> or FID rows"):
        image_figures.plot_fd_nfe(fd_only.assign(metric="recon_mse"))
    table = img.samples_table(metrics, samples)
    with pytest.raises(ValueError, match="^data pixels of run"):
        image_figures.plot_samples(table.assign(pixels="abcd"))
    runs_file = tmp_path / "a-file"
    runs_file.write_text("x")
    with pytest.raises(ValueError, match="^runs_dir must be a folder"):
        img.run_smoke_image_runs(runs_file)


def test_resuming_a_run_with_other_settings_says_what_to_do(tmp_path, monkeypatch):
    from collapse_theory.train.image import pipeline

    (tmp_path / "reflow").mkdir()
    (tmp_path / "reflow" / "manifest.json").write_text("{}")

    def refuse(cfg, out, resume=False):
        raise ValueError("out holds a run with a different config (steps: 150 there, 20 now)")

    monkeypatch.setattr(pipeline, "run", refuse)
    with pytest.raises(ValueError, match="^runs_dir holds a reflow run made with other settings.*delete"):
        img.run_smoke_image_runs(tmp_path, progress=False)


def test_samples_file_is_byte_identical_when_rewritten(tmp_path, collected):
    metrics, samples = collected
    a = img.write_image_results(metrics, samples, tmp_path / "a")[1]
    b = img.write_image_results(metrics, samples, tmp_path / "b")[1]
    assert a.read_bytes() == b.read_bytes()
