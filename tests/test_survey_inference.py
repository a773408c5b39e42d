"""Survey inference on Dask (issue 17): real worker processes over loopback, a worker killed mid-run.

Every test compares with the single-process ``ql.infer`` table on the same files: the same curves, the
same scores (to float tolerance) in the same order. The models are small Hadryss networks trained for a
few seconds, so their scores spread over (0, 1) (a ranking of ties would test nothing).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

import qusi_lab as ql
from qusi_lab import LightCurve
from qusi_lab.io.npz import write_npz
from qusi_lab.models import Hadryss
from qusi_lab.models.trained import Model
from qusi_lab.transforms import default_preprocessing

distributed = pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

from qusi_lab.inference.survey import (  # noqa: E402 - after the importorskip of the optional extra
    SurveyError,
    infer_survey,
    iter_light_curve_paths,
    iter_shards,
    merge_parts,
    part_path,
    read_manifest,
)

INPUT_LENGTH = 128
CURVES = 2000
SHARD = 200


def make_curve(index: int) -> LightCurve:
    """A short curve with a sinusoid and noise that vary with ``index`` (so the scores differ)."""
    rng = np.random.default_rng(index)
    time = np.arange(400) * 0.02
    flux = (1 + 1e-3 * (1 + index % 37) * np.sin(2 * np.pi * time / (0.3 + (index % 53) * 0.05))
            + rng.normal(0, 1e-3 * (1 + (index % 11) / 10), time.size))
    return LightCurve(time, flux, target_id=f"TIC {index}", mission="TESS", sector=1)


def trained_model(seed: int) -> Model:
    """A Hadryss trained for a few dozen steps to tell strong sinusoids from weak ones: scores spread over
    (0, 1) and do not hinge on float noise (an untrained network gives nearly one score to everything)."""
    from qusi_lab.data import LightCurveDataset
    from qusi_lab.models import model_for_task
    from qusi_lab.training import train

    indices = range(seed, 400, 2)
    labels = ["positive" if index % 37 > 18 else "negative" for index in indices]
    dataset = LightCurveDataset.from_light_curves([make_curve(index) for index in indices], labels,
                                                  preprocessing=default_preprocessing(INPUT_LENGTH),
                                                  augmentation=False)
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train(model_for_task("hadryss", INPUT_LENGTH, "binary"), dataset, dataset, max_steps=30,
                       batch_size=32, validation_every=30, learning_rate=3e-3, progress=False)
    finally:
        torch.set_num_threads(threads)
    return result.model


@pytest.fixture(scope="module")
def curve_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sector")
    for index in range(CURVES):
        write_npz(make_curve(index), root / f"cam{index % 4}" / f"tic{index:06d}.npz")
    return root


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two models (different weights) saved as bundles."""
    folder = tmp_path_factory.mktemp("models")
    return trained_model(0).save(folder / "a"), trained_model(1).save(folder / "b")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two worker processes of one thread each, over loopback (a LocalCluster, as ``--scheduler local:2``)."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                       silence_logs=50)
    dask_client = distributed.Client(cluster)
    yield dask_client
    dask_client.close()
    cluster.close()


def single_process(bundle: Path, data: Any) -> pd.DataFrame:
    # num_workers=0: ties keep the input order, as the survey's merge does.
    return ql.infer(bundle, data, period_search=False, progress=False, num_workers=0)


def assert_same_ranking(survey: pd.DataFrame, single: pd.DataFrame) -> None:
    """Same curves once each, same scores, same order (where two scores differ by more than float noise)."""
    assert survey["path"].is_unique
    assert len(survey) == len(single)
    assert survey["rank"].tolist() == list(range(1, len(survey) + 1))
    by_path = single.set_index("path")["score"]
    np.testing.assert_allclose(survey["score"].to_numpy(), by_path.loc[survey["path"]].to_numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(survey["score"].to_numpy(), single["score"].to_numpy(), rtol=0, atol=1e-6)
    tied = np.abs(survey["score"].to_numpy() - single["score"].to_numpy()) <= 1e-6
    different = survey["path"].to_numpy() != single["path"].to_numpy()
    assert not (different & ~tied).any()
    assert (np.diff(survey["score"].to_numpy()) <= 0).all()
    assert survey["target_id"].tolist() == single.set_index("path").loc[survey["path"], "target_id"].tolist()


# Run in one worker process by client.run(exec, ...): the first time, die half-way through a shard (before
# its part is written) or right after writing a part (before the scheduler hears the task finished).
KILL_MID_SHARD = """
import os, qusi_lab.io as io
_read, _count = io.read_light_curve, [0]
def _reading(path, *args, **kwargs):
    _count[0] += 1
    if _count[0] == 70 and not os.path.exists({marker!r}):
        open({marker!r}, "w").close()
        os._exit(1)
    return _read(path, *args, **kwargs)
io.read_light_curve = _reading
"""
KILL_AFTER_WRITE = """
import os, qusi_lab.inference.survey as survey
_write = survey.write_part
def _writing(frame, manifest, path):
    written = _write(frame, manifest, path)
    if not os.path.exists({marker!r}):
        open({marker!r}, "w").close()
        os._exit(1)
    return written
survey.write_part = _writing
"""


@pytest.mark.slow
def test_killed_workers_every_curve_once_same_as_single_process(client: Any, curve_folder: Path,
                                                                 bundles: tuple[Path, Path], tmp_path: Path) -> None:
    client.wait_for_workers(2)
    first, second = sorted(client.scheduler_info()["workers"])
    markers = tmp_path / "killed-mid-shard", tmp_path / "killed-after-write"
    client.run(exec, KILL_MID_SHARD.format(marker=str(markers[0])), {}, workers=[first])
    client.run(exec, KILL_AFTER_WRITE.format(marker=str(markers[1])), {}, workers=[second])

    out = tmp_path / "candidates"
    survey = ql.infer(bundles[0], curve_folder, client=client, out=out, shard_size=SHARD, period_search=False,
                      progress=False)

    assert markers[0].exists() and markers[1].exists()  # both workers really died during the run
    assert len(survey) == CURVES and survey["path"].is_unique
    assert_same_ranking(survey, single_process(bundles[0], curve_folder))
    assert sorted(path.name for path in out.glob("part-*.parquet")) == [
        part_path(out, index).name for index in range(CURVES // SHARD)]
    assert survey.attrs["survey"]["shards"] == CURVES // SHARD
    assert survey.attrs["light_curves"] == CURVES and survey.attrs["problems"] == []
    # The folder reads back as the same table (the merged file, and the parts merged again).
    assert ql.read_candidates(out)["path"].tolist() == survey["path"].tolist()
    assert merge_parts(out)["path"].tolist() == survey["path"].tolist()


@pytest.mark.slow
def test_rerun_skips_written_parts(client: Any, curve_folder: Path, bundles: tuple[Path, Path],
                                   tmp_path: Path) -> None:
    paths = sorted(str(path) for path in curve_folder.rglob("*.npz"))[:600]
    out = tmp_path / "candidates"
    first = ql.infer(bundles[0], paths, client=client, out=out, shard_size=100, period_search=False, progress=False)
    assert first.attrs["survey"]["parts_written"] == 6
    written = {path.name: path.stat().st_mtime_ns for path in out.glob("part-*.parquet")}

    again = ql.infer(bundles[0], paths, client=client, out=out, shard_size=100, period_search=False, progress=False)
    assert again.attrs["survey"] == {**first.attrs["survey"], "parts_written": 0, "parts_skipped": 6}
    assert {path.name: path.stat().st_mtime_ns for path in out.glob("part-*.parquet")} == written
    assert again["path"].tolist() == first["path"].tolist()

    part_path(out, 4).unlink()  # as if the run had been stopped before this shard
    third = ql.infer(bundles[0], paths, client=client, out=out, shard_size=100, period_search=False, progress=False)
    assert (third.attrs["survey"]["parts_written"], third.attrs["survey"]["parts_skipped"]) == (1, 5)
    assert_same_ranking(third, single_process(bundles[0], paths))

    # Another input (fewer paths) in the same folder: the shards whose paths changed are redone, and the
    # parts beyond its last shard are not merged into it.
    fewer = ql.infer(bundles[0], paths[:250], client=client, out=out, shard_size=100, period_search=False,
                     progress=False)
    assert fewer.attrs["survey"]["parts_skipped"] == 2 and fewer.attrs["survey"]["parts_redone"] == 1
    assert len(fewer) == 250 and len(list(out.glob("part-*.parquet"))) == 3


@pytest.mark.slow
def test_stale_part_of_another_model_is_not_mixed_in(client: Any, curve_folder: Path, bundles: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    paths = sorted(str(path) for path in curve_folder.rglob("*.npz"))[:400]
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    ql.infer(bundles[0], paths, client=client, out=out_a, shard_size=100, period_search=False, progress=False)
    table_b = ql.infer(bundles[1], paths, client=client, out=out_b, shard_size=100, period_search=False,
                       progress=False)
    fingerprint_b = table_b.attrs["model_fingerprint"]

    # A part of model A copied among model B's: the merge refuses, naming the part.
    part_path(out_b, 2).write_bytes(part_path(out_a, 2).read_bytes())
    (out_b / "candidates.parquet").unlink()
    with pytest.raises(SurveyError, match="part-000002"):
        merge_parts(out_b, fingerprint=fingerprint_b)
    with pytest.raises(SurveyError, match="different models"):
        merge_parts(out_b)
    with pytest.raises(SurveyError):
        ql.read_candidates(out_b)

    # Rerunning model B redoes that part only; the table is model B's alone.
    redone = ql.infer(bundles[1], paths, client=client, out=out_b, shard_size=100, period_search=False,
                      progress=False)
    assert (redone.attrs["survey"]["parts_redone"], redone.attrs["survey"]["parts_written"]) == (1, 1)
    assert {read_manifest(part_path(out_b, index))["model_fingerprint"] for index in range(4)} == {fingerprint_b}
    assert_same_ranking(redone, single_process(bundles[1], paths))

    # Model A over B's folder: every part is stale and redone.
    over = ql.infer(bundles[0], paths, client=client, out=out_b, shard_size=100, period_search=False,
                    progress=False)
    assert over.attrs["survey"]["parts_redone"] == 4
    assert_same_ranking(over, single_process(bundles[0], paths))


@pytest.mark.slow
def test_bad_files_reported_per_shard(client: Any, curve_folder: Path, bundles: tuple[Path, Path],
                                      tmp_path: Path) -> None:
    paths = sorted(str(path) for path in curve_folder.rglob("*.npz"))[:50]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "garbage.npz").write_bytes(b"not a zip file")
    (bad / "empty.fits").write_bytes(b"")
    (bad / "truncated.csv").write_text("time,flux\n1.0\n")
    broken = [str(bad / "garbage.npz"), str(bad / "empty.fits"), str(bad / "truncated.csv")]
    data = paths[:5] + broken[:1] + paths[5:25] + broken[1:] + paths[25:]  # in shards 0 and 2

    out = tmp_path / "candidates"
    survey = ql.infer(bundles[0], data, client=client, out=out, shard_size=10, period_search=False, progress=False)
    single = single_process(bundles[0], data)

    assert_same_ranking(survey, single)
    assert sorted(survey.problems["path"]) == sorted(broken)
    pd.testing.assert_frame_equal(survey.problems.sort_values("path").reset_index(drop=True),
                                  single.problems.sort_values("path").reset_index(drop=True))
    assert survey.attrs["not_scored"] == 3 and survey.attrs["scored"] + 3 == survey.attrs["light_curves"] == 53
    per_shard = {index: [problem[0] for problem in read_manifest(part_path(out, index))["problems"]]
                 for index in range(6)}
    assert per_shard == {0: broken[:1], 1: [], 2: broken[1:], 3: [], 4: [], 5: []}

    # A path that does not exist is one problem of its shard, not the end of the run.
    missing = ql.infer(bundles[0], [*paths[:8], str(bad / "gone.npz")], client=client, out=tmp_path / "missing",
                       shard_size=4, period_search=False, progress=False)
    assert len(missing) == 8 and missing.problems["path"].tolist() == [str(bad / "gone.npz")]


class CountingClient:
    """A client that records what each submitted shard task carries (and passes everything on)."""

    def __init__(self, client: Any, consumed: list[int]) -> None:
        self.client, self.consumed, self.task_sizes, self.consumed_at_submit = client, consumed, [], []

    def submit(self, function: Any, task: Any, **options: Any) -> Any:
        self.task_sizes.append(len(task.paths))
        self.consumed_at_submit.append(self.consumed[0])
        return self.client.submit(function, task, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.mark.slow
def test_glob_text_file_and_list_inputs_stream(client: Any, curve_folder: Path, bundles: tuple[Path, Path],
                                               tmp_path: Path) -> None:
    paths = sorted(str(path) for path in (curve_folder / "cam1").glob("*.npz"))  # 500 curves
    single = single_process(bundles[0], paths)
    listing = tmp_path / "paths.txt"
    # Relative paths are read from the list's folder; comments and blank lines are skipped.
    listing.write_text("# sector 1, camera 1\n\n" + "\n".join(os.path.relpath(path, tmp_path) for path in paths)
                       + "\n")
    for name, data in [("glob", str(curve_folder / "cam1" / "*.npz")), ("text", listing), ("list", paths)]:
        table = ql.infer(bundles[0], data, client=client, out=tmp_path / name, shard_size=64, period_search=False,
                         progress=False)
        by_path = table.set_index(table["path"].map(os.path.realpath))["score"]
        assert by_path.index.is_unique and len(by_path) == len(paths), name
        np.testing.assert_allclose(by_path.loc[[os.path.realpath(path) for path in paths]].to_numpy(),
                                   single.set_index("path").loc[paths, "score"].to_numpy(), atol=1e-6)

    # A generator is read lazily: each task carries its own shard only, and the driver had read at most a
    # few shards ahead when it submitted one.
    consumed = [0]

    def generated() -> Iterator[str]:
        for path in paths:
            consumed[0] += 1
            yield path

    counting = CountingClient(client, consumed)
    table = infer_survey(bundles[0], generated(), client=counting, out=tmp_path / "generator", shard_size=50,
                         period_search=False, progress=False, max_pending=2)
    assert counting.task_sizes == [50] * 10
    assert counting.consumed_at_submit[0] == 50  # the first task left before the rest of the input was read
    assert all(read <= (number + 1) * 50 for number, read in enumerate(counting.consumed_at_submit))
    assert_same_ranking(table, single)


def test_paths_are_streamed_not_listed(tmp_path: Path) -> None:
    """The driver's path reader and shard cutter are lazy: an endless input gives its first shards."""
    endless = (f"/archive/star{index}.fits" for index in iter(int, 1))  # never ends
    shards = iter_shards(iter_light_curve_paths(endless), 1000)
    assert [len(next(shards)[1]) for _ in range(3)] == [1000, 1000, 1000]
    listing = tmp_path / "paths.lst"
    listing.write_text("a.fits\n  \n# note\n/abs/b.npz\n")
    assert list(iter_light_curve_paths(listing)) == [str(tmp_path / "a.fits"), "/abs/b.npz"]


def test_survey_needs_the_cluster_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without Dask the default install still scores in one process; asking for a scheduler names the extra."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    model = Model(Hadryss(input_length=INPUT_LENGTH), task="binary",
                  preprocessing=default_preprocessing(INPUT_LENGTH))
    with pytest.raises(ImportError, match=r"qusi_lab\[cluster\]"):
        ql.infer(model, [make_curve(0)], scheduler="local:2", out=tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="client= or scheduler="):
        ql.infer(model, [make_curve(0)], out=tmp_path / "out", progress=False)
    assert len(ql.infer(model, [make_curve(0), make_curve(1)], period_search=False, progress=False)) == 2


@pytest.mark.slow
def test_cli_scheduler_local_end_to_end(curve_folder: Path, bundles: tuple[Path, Path], tmp_path: Path) -> None:
    paths = sorted(str(path) for path in (curve_folder / "cam2").glob("*.npz"))[:300]
    listing = tmp_path / "paths.txt"
    listing.write_text("\n".join(paths) + "\n")
    out = tmp_path / "candidates"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(ql.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "qusi_lab", "infer", "--model", str(bundles[0]), "--data", str(listing),
               "--out", str(out), "--scheduler", "local:2", "--shard-size", "100", "--no-period-search", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "scored 300 of 300 light curves" in result.stdout
    assert sorted(path.name for path in out.glob("part-*.parquet")) == [f"part-00000{index}.parquet"
                                                                        for index in range(3)]
    assert_same_ranking(ql.read_candidates(out), single_process(bundles[0], paths))

    # A second run skips every part (nothing is scored again) and gives the same table.
    again = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)
    assert again.returncode == 0, again.stderr[-3000:]
    assert ql.read_candidates(out).attrs["survey"]["parts_skipped"] == 3


def test_a_shard_seeds_random_preprocessing_as_the_whole_input_would():
    """A random preprocessing step draws from the curve's index in the whole input, not in its shard."""
    import qusi_lab as ql
    from qusi_lab.transforms import Pipeline, default_preprocessing
    from qusi_lab.transforms.augmentation import AddNoise

    curves = [ql.LightCurve(np.arange(500) * 0.02, 1 + np.random.default_rng(i).normal(0, 1e-3, 500))
              for i in range(6)]
    noisy = Pipeline([AddNoise(0.5, probability=1.0), *default_preprocessing(64)])
    whole = ql.data.LightCurveDataset.from_light_curves(curves, preprocessing=noisy)
    shard = ql.data.LightCurveDataset.from_light_curves(curves[3:], preprocessing=noisy, first_position=3)
    assert np.array_equal(whole[4][0].numpy(), shard[1][0].numpy())
    unplaced = ql.data.LightCurveDataset.from_light_curves(curves[3:], preprocessing=noisy)
    assert not np.array_equal(whole[4][0].numpy(), unplaced[1][0].numpy())  # the seed is what decides
