"""LightCurveDataset and its streams, on real files read through real code.

Files are written with qusi_lab.io (TESS SPOC FITS, CSV) or numpy, datasets are
built from them, and batches come out of real DataLoaders with 0 and 2 workers.
"""

from __future__ import annotations

from pathlib import Path

import lightkurve as lk
import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

import qusi_lab as ql
from qusi_lab.data import (
    DatasetLayoutError,
    LightCurveDataset,
    NoUsableLightCurvesError,
    split_by_target,
    target_id_from_filename,
)
from qusi_lab.errors import LabelError, LightCurveError, LightCurveReadError
from qusi_lab.io import write_csv, write_spoc_fits
from qusi_lab.lightcurve import LightCurve

LENGTH = 64  # short network inputs keep the tests fast
N_CADENCES = 600


def spoc_name(tic_id: int, sector: int) -> str:
    return f"tess2018206045859-s{sector:04d}-{tic_id:016d}-0120-s_lc.fits"


def write_star(path: Path, tic_id: int, sector: int = 1, depth: float = 0.0, seed: int = 0) -> Path:
    """A TESS SPOC light-curve file: noise around 500 e-/s, with box transits of ``depth`` when > 0."""
    rng = np.random.default_rng(seed + 1000 * tic_id + sector)
    time = 1325.0 + sector * 27.0 + np.arange(N_CADENCES) / 720.0
    flux = 500.0 + rng.normal(0.0, 0.5, N_CADENCES)
    if depth:
        flux[(np.arange(N_CADENCES) % 200) < 10] -= depth * 500.0
    return write_spoc_fits(LightCurve(time, flux), path, flux_err=np.full(N_CADENCES, 0.5), tic_id=tic_id, sector=sector)


def write_class_folders(root: Path, counts: dict[str, int], sectors: int = 1, first_tic: int = 100) -> Path:
    """root/<class>/<SPOC file> for ``counts[class]`` stars, ``sectors`` files per star."""
    tic = first_tic
    for klass, count in counts.items():
        for _ in range(count):
            tic += 1
            for sector in range(1, sectors + 1):
                write_star(root / klass / spoc_name(tic, sector), tic, sector, depth=0.01 if klass == "positive" else 0)
    return root


def corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"SIMPLE  =                    T / truncated download")
    return path


def write_curve_csv(path: Path, seed: int, n: int = 300) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    time = np.arange(n) / 48.0
    np.savetxt(path, np.column_stack([time, 1.0 + rng.normal(0, 1e-3, n)]), delimiter=",", header="time,flux", comments="")
    return path


def load_csv_times_and_fluxes(path):
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    return table[:, 0], table[:, 1]


def memory_curves(count: int, seed: int = 0, n: int = 120) -> list[ql.LightCurve]:
    rng = np.random.default_rng(seed)
    return [
        ql.LightCurve(np.arange(n) / 48.0, 1.0 + rng.normal(0, 1e-3, n), target_id=f"TIC {i}")
        for i in range(count)
    ]


def batches(dataset_or_stream, num_workers: int, batch_size: int = 4, count: int | None = None, **kwargs):
    iterator = iter(DataLoader(dataset_or_stream, batch_size=batch_size, num_workers=num_workers, **kwargs))
    out = []
    try:
        for batch in iterator:
            out.append(batch)
            if count is not None and len(out) == count:
                break
    finally:
        # Stop the workers now: a worker's error keeps the iterator alive in its traceback, and torch's
        # shutdown at garbage collection then waits 5 s per worker.
        getattr(iterator, "_shutdown_workers", lambda: None)()
    return out


# ---------------------------------------------------------------------------- labels and tasks
def test_task_and_label_encoding_inferred_from_labels(tmp_path):
    paths = [write_curve_csv(tmp_path / f"star_{i}.csv", seed=i) for i in range(6)]

    def build(labels, **kwargs):
        return LightCurveDataset(paths, labels, load=load_csv_times_and_fluxes, input_length=LENGTH, **kwargs)

    binary = build(["positive", "negative", "positive", "negative", "negative", "negative"])
    assert binary.task == "binary"
    assert binary.label_names == ("negative", "positive") and binary.positive_class == "positive"
    x, y = binary[0]
    assert x.dtype == torch.float32 and x.shape == (LENGTH,) and torch.isfinite(x).all()
    assert y.dtype == torch.float32 and y.ndim == 0 and float(y) == 1.0
    assert float(binary[1][1]) == 0.0

    # "positive" sorts after "negative" anyway; a class named otherwise is moved to index 1 on request.
    planets = build(["planet", "eb", "planet", "eb", "eb", "eb"], positive_class="eb")
    assert planets.label_names == ("planet", "eb") and float(planets[1][1]) == 1.0
    assert build(["planet", "eb", "planet", "eb", "eb", "eb"]).label_names == ("eb", "planet")
    assert build([True, False, True, False, False, True]).label_names == ("False", "True")

    zero_one = build([0, 1, 1, 0, 0, 0])
    assert zero_one.task == "binary" and zero_one.label_names == ("0", "1") and float(zero_one[1][1]) == 1.0

    multiclass = build(["transit", "eb", "flare", "eb", "transit", "flare"])
    assert multiclass.task == "multiclass" and multiclass.label_names == ("eb", "flare", "transit")
    y = multiclass[0][1]
    assert y.dtype == torch.int64 and int(y) == 2
    assert multiclass.class_counts().tolist() == [2, 2, 2]
    assert build([0, 3, 2, 1, 10, 2]).label_names == ("0", "1", "2", "3", "10")  # numeric order

    regression = build([0.5, 1.25, 3.0, 0.1, 2.0, 7.5])
    assert regression.task == "regression" and regression.label_names == ()
    y = regression[1][1]
    assert y.dtype == torch.float32 and float(y) == pytest.approx(1.25)

    unlabelled = LightCurveDataset(paths, load=load_csv_times_and_fluxes, input_length=LENGTH)
    assert unlabelled.task is None and unlabelled.labels is None and not unlabelled.is_labelled
    assert torch.isnan(unlabelled[0][1])

    forced = build([0.0, 1.0, 1.0, 0.0, 0.0, 0.0], task="binary")  # floats are regression unless told
    assert forced.task == "binary" and forced.labels == ["0", "1", "1", "0", "0", "0"]


def test_unknown_label_names_the_file_and_lists_known_labels(tmp_path):
    paths = [write_curve_csv(tmp_path / f"star_{i}.csv", seed=i) for i in range(3)]
    with pytest.raises(LabelError) as caught:
        LightCurveDataset(
            paths, ["positive", "negative", "postive"], load=load_csv_times_and_fluxes,
            label_names=["negative", "positive"], input_length=LENGTH,
        )
    message = str(caught.value)
    assert "star_2.csv" in message and "'postive'" in message
    assert "negative" in message and "positive" in message
    with pytest.raises(LabelError, match="every label is 'positive'"):
        LightCurveDataset(paths, ["positive"] * 3, load=load_csv_times_and_fluxes, input_length=LENGTH)
    with pytest.raises(LabelError, match="3 labels for 2"):
        LightCurveDataset(paths[:2], ["a", "b", "a"], load=load_csv_times_and_fluxes, input_length=LENGTH)
    # Integers index into given class names.
    named = LightCurveDataset(paths, [1, 0, 1], load=load_csv_times_and_fluxes, input_length=LENGTH,
                              label_names=("noise", "transit"))
    assert named.labels == ["transit", "noise", "transit"] and named.positive_class == "transit"


# ---------------------------------------------------------------------------- constructors
def test_from_directory_reads_spoc_fits_with_class_folders(tmp_path):
    root = write_class_folders(tmp_path / "train", {"positive": 3, "negative": 4}, sectors=2)
    (root / "negative" / "nested" / "deeper").mkdir(parents=True)
    write_star(root / "negative" / "nested" / "deeper" / spoc_name(999, 3), 999, sector=3)
    dataset = LightCurveDataset.from_directory(root, input_length=LENGTH)

    assert len(dataset) == 3 * 2 + 4 * 2 + 1
    assert dataset.task == "binary" and dataset.label_names == ("negative", "positive")
    assert dataset.class_counts().tolist() == [9, 6]
    labels = dataset.labels
    assert labels is not None
    position = labels.index("positive")
    source = Path(dataset.sources[position])
    assert source.parent.name == "positive"
    lc = dataset.light_curve(position)
    assert lc.target_id == dataset.target_ids[position] == target_id_from_filename(source)
    assert lc.meta["sector"] in (1, 2) and Path(lc.meta["path"]) == source
    x, y = dataset[position]
    assert x.shape == (LENGTH,) and float(y) == 1.0
    assert "TIC 999" in dataset.target_ids
    text = repr(dataset)
    assert "15 light curves" in text and "negative=9" in text and "positive=6" in text and str(LENGTH) in text
    summary = dataset.summary()
    assert summary.loc["positive", "curves"] == 6 and summary.loc["positive", "targets"] == 3
    assert summary.loc["total", "curves"] == 15 and summary.loc["total", "problems"] == 0


def test_from_directory_layout_errors_say_what_layout_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="train/positive"):
        LightCurveDataset.from_directory(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match="no class sub-folders.*one sub-folder per class"):
        LightCurveDataset.from_directory(tmp_path / "empty")
    write_star(tmp_path / "flat" / spoc_name(1, 1), 1)
    with pytest.raises(DatasetLayoutError, match="1 light-curve files directly in it"):
        LightCurveDataset.from_directory(tmp_path / "flat")
    write_star(tmp_path / "half" / "positive" / spoc_name(2, 1), 2)
    (tmp_path / "half" / "negative").mkdir()
    (tmp_path / "half" / "negative" / "notes.txt").write_text("no light curves here")
    with pytest.raises(DatasetLayoutError, match="'negative' holds no light-curve files"):
        LightCurveDataset.from_directory(tmp_path / "half")


def test_from_experiment_gives_train_validation_test_with_the_same_classes(tmp_path):
    root = tmp_path / "spoc_transit_experiment"
    write_class_folders(root / "train", {"positive": 2, "negative": 3}, first_tic=100)
    write_class_folders(root / "validation", {"negative": 2}, first_tic=200)  # no positives here
    # Every split needs the same class folders (tests/test_class_folders.py has the other cases).
    with pytest.raises(DatasetLayoutError, match="every split needs the same class folders"):
        LightCurveDataset.from_experiment(root, input_length=LENGTH)
    write_class_folders(root / "validation", {"positive": 1}, first_tic=250)
    datasets = LightCurveDataset.from_experiment(root, input_length=LENGTH)
    assert set(datasets) == {"train", "validation"}
    assert datasets["train"].label_names == datasets["validation"].label_names == ("negative", "positive")
    assert datasets["validation"].task == "binary" and len(datasets["validation"]) == 3
    write_class_folders(root / "test", {"positive": 1, "negative": 1}, first_tic=300)
    assert len(LightCurveDataset.from_experiment(root, input_length=LENGTH)["test"]) == 2
    with pytest.raises(DatasetLayoutError, match="no train or validation folder"):
        LightCurveDataset.from_experiment(tmp_path / "spoc_transit_experiment" / "train")


def test_from_light_curves_accepts_lightkurve_objects_and_works_with_workers():
    rng = np.random.default_rng(3)
    curves = [
        lk.LightCurve(
            time=1325.0 + np.arange(200) / 720.0,
            flux=500.0 + rng.normal(0, 1, 200),
            flux_err=np.ones(200),
            meta={"TICID": 1000 + i, "SECTOR": 1 + i % 2, "MISSION": "TESS"},
        )
        for i in range(6)
    ]
    # Not constant: a constant flux is refused by the preprocessing (nothing to score).
    curves.append(ql.LightCurve(np.arange(200.0), 1.0 + 0.01 * np.sin(np.arange(200.0)), target_id="TIC 7"))
    labels = ["positive", "negative", "negative", "positive", "negative", "negative", "positive"]
    dataset = LightCurveDataset.from_light_curves(curves, labels, input_length=LENGTH)
    assert isinstance(dataset.light_curve(0), ql.LightCurve)
    assert dataset.target_ids == ("TIC 1000", "TIC 1001", "TIC 1002", "TIC 1003", "TIC 1004", "TIC 1005", "TIC 7")
    assert dataset.light_curve(1).meta["sector"] == 2
    expected = torch.stack([dataset[i][0] for i in range(len(dataset))])
    got = batches(dataset, num_workers=2, batch_size=len(dataset), shuffle=False)[0]
    assert torch.equal(got[0], expected)
    assert got[1].tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    with pytest.raises(TypeError, match="light curve 0 is a ndarray"):
        LightCurveDataset.from_light_curves([np.ones(5)])


def test_from_functions_with_times_and_fluxes_tuples(tmp_path):
    for i in range(4):
        write_curve_csv(tmp_path / "positive" / f"tic_{10 + i}_s1.csv", seed=i)
        write_curve_csv(tmp_path / "negative" / f"tic_{20 + i}_s1.csv", seed=10 + i)
    write_curve_csv(tmp_path / "negative" / "tic_20_s2.csv", seed=99)  # a second sector of TIC 20

    def get_paths():
        return sorted(tmp_path.glob("*/*.csv"))

    def load_times_and_fluxes_from_path(path):
        table = np.loadtxt(path, delimiter=",", skiprows=1)
        return table[:, 0], table[:, 1]

    def load_label_from_path(path):
        return path.parent.name

    dataset = LightCurveDataset.from_functions(
        get_paths, load_times_and_fluxes_from_path, load_label_from_path, input_length=LENGTH
    )
    assert len(dataset) == 9 and dataset.task == "binary"
    assert dataset.target_ids.count("TIC 20") == 2  # tic_<n> in the file name groups sectors
    lc = dataset.light_curve(0)
    assert Path(lc.meta["path"]) == get_paths()[0] and len(lc) == 300
    seen = {}
    for num_workers in (0, 2):
        collected = batches(dataset.iterate(), num_workers=num_workers, batch_size=3)
        seen[num_workers] = {int(i): float(y) for _, ys, idx in collected for i, y in zip(idx, ys, strict=True)}
    labels = dataset.labels or []
    assert seen[0] == seen[2] == {i: (1.0 if labels[i] == "positive" else 0.0) for i in range(9)}

    custom = LightCurveDataset.from_functions(
        get_paths, load_times_and_fluxes_from_path, input_length=LENGTH,
        target_id_from_path=lambda path: path.stem.split("_")[1],
    )
    assert custom.task is None and custom.target_ids[0] == Path(get_paths()[0]).stem.split("_")[1]


def test_loader_mistakes_raise_light_curve_errors_naming_the_file(tmp_path):
    path = write_curve_csv(tmp_path / "star.csv", seed=1)

    def returns_one_array(p):
        return np.ones(10)

    def raises(p):
        raise KeyError("FLUX")

    def unsorted(p):
        return [3.0, 2.0, 1.0], [1.0, 1.0, 1.0]

    with pytest.raises(LightCurveError, match=r"star\.csv: returns_one_array returned a ndarray; expected"):
        LightCurveDataset.from_functions(lambda: [path], returns_one_array, input_length=LENGTH)[0]
    with pytest.raises(LightCurveReadError, match=r"star\.csv: KeyError: 'FLUX'") as caught:
        LightCurveDataset.from_functions(lambda: [path], raises, input_length=LENGTH).light_curve(0)
    assert isinstance(caught.value.__cause__, KeyError)
    with pytest.raises(LightCurveError, match=r"star\.csv: times do not increase"):
        LightCurveDataset.from_functions(lambda: [path], unsorted, input_length=LENGTH)[0]
    with pytest.raises(LabelError, match=r"star\.csv: load_label_from_path failed: IndexError"):
        LightCurveDataset.from_functions(lambda: [path], unsorted, lambda p: [][0], input_length=LENGTH)


# ---------------------------------------------------------------------------- evaluation streams
def test_evaluation_stream_yields_every_index_once_in_order_with_two_workers(tmp_path):
    root = write_class_folders(tmp_path, {"positive": 5, "negative": 6})
    dataset = LightCurveDataset.from_directory(root, input_length=LENGTH)
    stream = dataset.iterate()
    shards = [stream.shard(worker, 2) for worker in range(2)]
    assert [shard.tolist() for shard in shards] == [list(range(6)), list(range(6, 11))]  # contiguous, in order

    expected_x = torch.stack([dataset[i][0] for i in range(len(dataset))])
    for num_workers in (0, 2):
        collected = batches(dataset.iterate(), num_workers=num_workers, batch_size=2)
        indices = torch.cat([batch[2] for batch in collected]).tolist()
        assert sorted(indices) == list(range(11)) and len(indices) == 11
        # Each worker's batches come out in order: split them by worker (the DataLoader alternates).
        by_worker = [indices[:0]] * max(num_workers, 1)
        for position, batch in enumerate(collected):
            by_worker[position % max(num_workers, 1)] = by_worker[position % max(num_workers, 1)] + batch[2].tolist()
        assert all(part == sorted(part) for part in by_worker)
        x = torch.cat([batch[0] for batch in collected])
        assert torch.equal(x[np.argsort(indices)], expected_x)  # x belongs to the index it came with

    subset = batches(dataset.iterate(indices=[9, 2, 4]), num_workers=0, batch_size=8)[0]
    assert subset[2].tolist() == [9, 2, 4]


# ---------------------------------------------------------------------------- training streams
def test_training_stream_is_reproducible_per_seed_and_differs_across_workers_and_epochs():
    dataset = LightCurveDataset.from_light_curves(memory_curves(20), ["positive"] * 5 + ["negative"] * 15,
                                                  input_length=LENGTH)

    def draw(seed, num_workers, epoch=0, count=4):
        stream = dataset.stream(seed=seed)
        stream.set_epoch(epoch)
        return [batch[0] for batch in batches(stream, num_workers=num_workers, batch_size=5, count=count)]

    for num_workers in (0, 2):
        first, again = draw(1, num_workers), draw(1, num_workers)
        assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
        other = draw(2, num_workers)
        assert not any(torch.equal(a, b) for a, b in zip(first, other, strict=True))
    two_workers = draw(1, 2)
    assert not torch.equal(two_workers[0], two_workers[1])  # batch 0 from worker 0, batch 1 from worker 1
    assert not torch.equal(draw(1, 0, epoch=1)[0], draw(1, 0, epoch=0)[0])
    # Augmentation is on in streams and off in dataset[i].
    plain = dataset.stream(seed=1, augment=False)
    x, _ = next(iter(plain))
    assert any(torch.equal(x, dataset[i][0]) for i in range(len(dataset)))


def draw_labels(dataset, draws: int = 4000, **stream_kwargs) -> np.ndarray:
    loader = DataLoader(dataset.stream(augment=False, **stream_kwargs), batch_size=500)
    labels = []
    for _, y in loader:
        labels.append(y.numpy())
        if sum(len(item) for item in labels) >= draws:
            break
    return np.concatenate(labels)[:draws]


def test_balance_ratios_measured_on_4000_draws():
    from qusi_lab.transforms import BinToLength, Pipeline

    fast = Pipeline([BinToLength(length=32)])  # sampling is under test here, not preprocessing
    labels = ["positive"] * 4 + ["negative"] * 16
    dataset = LightCurveDataset.from_light_curves(memory_curves(20, n=80), labels, preprocessing=fast)
    natural = draw_labels(dataset, draws=1000, seed=0)
    assert natural.mean() == pytest.approx(0.2, abs=0.005)  # shuffled passes: exactly 1 in 5 per pass
    assert draw_labels(dataset, seed=1, balance="equal").mean() == pytest.approx(0.5, abs=0.03)
    shares = draw_labels(dataset, seed=2, balance={"positive": 0.3, "negative": 0.7})
    assert shares.mean() == pytest.approx(0.3, abs=0.03)
    # Shares are normalised: 3:1 is 0.75:0.25.
    probabilities = dataset.stream(balance={"positive": 3, "negative": 1}).probabilities
    assert probabilities is not None and probabilities.tolist() == [0.25, 0.75]

    sampler = dataset.sampler(balance={"positive": 0.6, "negative": 0.4}, num_samples=4000, seed=0)
    drawn = np.array(list(sampler))
    assert np.isin(drawn, np.arange(4)).mean() == pytest.approx(0.6, abs=0.03)  # the positives are 0..3

    multiclass = LightCurveDataset.from_light_curves(memory_curves(12, n=80), ["a"] * 8 + ["b"] * 3 + ["c"],
                                                     preprocessing=fast)
    counts = np.bincount(draw_labels(multiclass, seed=4, balance="equal").astype(int), minlength=3) / 4000
    assert counts == pytest.approx([1 / 3] * 3, abs=0.03)

    with pytest.raises(LabelError, match=r"unknown classes \['postive'\].*\['negative', 'positive'\]"):
        dataset.stream(balance={"postive": 0.5, "negative": 0.5})
    with pytest.raises(LabelError, match="no share for classes"):
        dataset.stream(balance={"positive": 1.0})
    with pytest.raises(ValueError, match="must be a positive number"):
        dataset.stream(balance={"positive": -1.0, "negative": 2.0})
    with pytest.raises(ValueError, match="unknown balance 'balanced'"):
        dataset.stream(balance="balanced")


def test_class_weights_for_bce_and_cross_entropy():
    binary = LightCurveDataset.from_light_curves(memory_curves(15), ["positive"] * 3 + ["negative"] * 12,
                                                 input_length=LENGTH)
    pos_weight = binary.class_weights()
    assert pos_weight.tolist() == [4.0] and pos_weight.dtype == torch.float32
    assert binary.class_weights("inverse_sqrt_frequency").tolist() == [2.0]
    torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)(torch.zeros(3), torch.tensor([1.0, 0.0, 0.0]))

    multiclass = LightCurveDataset.from_light_curves(memory_curves(8), ["a"] * 4 + ["b"] * 2 + ["c"] * 2,
                                                     input_length=LENGTH)
    weights = multiclass.class_weights()
    assert weights.tolist() == pytest.approx([8 / 12, 8 / 6, 8 / 6])
    torch.nn.CrossEntropyLoss(weight=weights)(torch.zeros(2, 3), torch.tensor([0, 2]))
    regression = LightCurveDataset.from_light_curves(memory_curves(3), [0.1, 0.2, 0.3], input_length=LENGTH)
    with pytest.raises(ValueError, match="classification"):
        regression.class_weights()


# ---------------------------------------------------------------------------- splits
def test_split_keeps_targets_apart_and_respects_fractions(tmp_path):
    # 40 stars, 2 sectors each, 10 of them positive: 80 files.
    root = write_class_folders(tmp_path, {"positive": 10, "negative": 30}, sectors=2)
    dataset = LightCurveDataset.from_directory(root, input_length=LENGTH)
    train, validation, test = dataset.split((0.8, 0.1, 0.1), seed=0)
    parts = (train, validation, test)
    ids = [set(part.target_ids) for part in parts]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert sorted(s for part in parts for s in part.sources) == sorted(dataset.sources)
    assert [len(part) for part in parts] == [64, 8, 8]
    for part in parts:
        assert part.label_names == dataset.label_names
        assert part.class_counts()[1] >= 1  # every split has positives
    assert train.class_counts().tolist() == [48, 16]
    again = dataset.split((0.8, 0.1, 0.1), seed=0)
    assert [p.sources for p in again] == [p.sources for p in parts]
    assert dataset.split((0.8, 0.1, 0.1), seed=5)[1].sources != validation.sources
    x, y = validation[0]  # subsets are full datasets
    assert x.shape == (LENGTH,)

    indices = split_by_target(["a", "a", "b", "c", "c", "d"], (0.5, 0.5), seed=0)
    assert sorted(np.concatenate(indices).tolist()) == list(range(6))
    assert all({0, 1} <= set(part) or not ({0, 1} & set(part)) for part in map(set, indices))
    with pytest.raises(ValueError, match="sum to 1"):
        dataset.split((0.8, 0.1))


# ---------------------------------------------------------------------------- problems
def test_bad_files_are_skipped_and_reported_from_worker_processes(tmp_path, monkeypatch):
    root = write_class_folders(tmp_path / "train", {"positive": 3, "negative": 5})
    bad = corrupt(root / "negative" / spoc_name(777, 1))
    empty = root / "positive" / "empty_lc.csv"
    empty.write_text("time,flux\n")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)

    dataset = LightCurveDataset.from_directory(root, input_length=LENGTH)
    bad_indices = {dataset.sources.index(bad), dataset.sources.index(empty)}
    collected = batches(dataset.iterate(), num_workers=2, batch_size=3)
    indices = sorted(torch.cat([batch[2] for batch in collected]).tolist())
    assert indices == sorted(set(range(len(dataset))) - bad_indices)

    problems = dataset.problems
    assert isinstance(problems, pd.DataFrame) and list(problems.columns) == ["path", "error", "stage"]
    assert set(problems["path"]) == {str(bad), str(empty)}
    assert set(problems["stage"]) == {"load"}
    assert problems.set_index("path").loc[str(bad), "error"].startswith("LightCurveReadError")
    assert "2 problems" in repr(dataset) and dataset.summary().loc["total", "problems"] == 2
    with pytest.raises(LightCurveError, match=spoc_name(777, 1)):
        dataset[dataset.sources.index(bad)]  # map-style access raises, naming the file

    # Training streams in workers report too (a fresh dataset: nothing known yet).
    fresh = LightCurveDataset.from_directory(root, input_length=LENGTH)
    batches(fresh.stream(seed=0), num_workers=2, batch_size=4, count=8)
    assert set(fresh.problems["path"]) == {str(bad), str(empty)}
    # check() goes through every file once.
    checked = LightCurveDataset.from_directory(root, input_length=LENGTH).check(num_workers=2)
    assert set(checked["path"]) == {str(bad), str(empty)}
    assert list(work.iterdir()) == []  # nothing written to the working directory


def test_preprocessing_failures_are_reported_with_their_stage():
    from qusi_lab.transforms import Pipeline, default_preprocessing
    from qusi_lab.transforms.base import Transform

    class RejectNegativeFlux(Transform):
        def apply(self, lc, rng):
            if (lc.flux < 0).any():
                raise LightCurveError("negative flux")
            return lc

    curves = memory_curves(4)
    curves[2] = curves[2].replace(flux=-curves[2].flux)
    preprocessing = Pipeline([RejectNegativeFlux(), *default_preprocessing(LENGTH)])
    dataset = LightCurveDataset.from_light_curves(curves, preprocessing=preprocessing)
    assert dataset.input_length == LENGTH
    indices = [int(i) for _, _, i in dataset.iterate()]
    assert indices == [0, 1, 3]
    assert dataset.problems.to_dict("records") == [
        {"path": "<light curve 2>", "error": "LightCurveError: <light curve 2>: negative flux", "stage": "preprocess"}
    ]


def test_all_bad_dataset_raises_clearly_instead_of_spinning(tmp_path):
    paths = [corrupt(tmp_path / "negative" / spoc_name(i, 1)) for i in range(3)]
    paths += [corrupt(tmp_path / "positive" / spoc_name(10 + i, 1)) for i in range(3)]
    dataset = LightCurveDataset.from_directory(tmp_path, input_length=LENGTH)
    with pytest.raises(NoUsableLightCurvesError, match="every one of the 6 light curves failed"):
        next(iter(dataset.stream(seed=0)))
    with pytest.raises(NoUsableLightCurvesError, match="every light curve of class '(positive|negative)' failed"):
        next(iter(dataset.stream(seed=0, balance="equal")))
    with pytest.raises(NoUsableLightCurvesError, match="3 light curves in a row failed"):
        next(iter(dataset.stream(seed=0, max_consecutive_failures=3)))
    with pytest.raises(NoUsableLightCurvesError, match="failed to load or preprocess"):
        batches(dataset.stream(seed=0), num_workers=2, batch_size=2, count=1)
    assert set(dataset.problems["path"]) == {str(path) for path in paths}
    assert list(dataset.iterate()) == []  # evaluation just skips them all

    # One bad class makes a balanced stream impossible, but a natural stream goes on with the rest.
    write_star(tmp_path / "negative" / spoc_name(50, 1), 50)
    mixed = LightCurveDataset.from_directory(tmp_path, input_length=LENGTH)
    with pytest.raises(NoUsableLightCurvesError, match="class 'positive'"):
        batches(mixed.stream(seed=0, balance="equal"), num_workers=0, batch_size=4, count=3)
    x, y = batches(mixed.stream(seed=0), num_workers=0, batch_size=4, count=1)[0]
    assert y.tolist() == [0.0] * 4  # only the good negative is left


def test_plot_shows_raw_curve_and_network_input(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    root = write_class_folders(tmp_path, {"positive": 1, "negative": 1})
    dataset = LightCurveDataset.from_directory(root, input_length=LENGTH)
    raw_axis, input_axis = dataset.plot(1)
    assert len(input_axis.lines[0].get_ydata()) == LENGTH
    assert "positive" in raw_axis.get_title()


def test_target_ids_from_a_user_rule_or_from_file_metadata(tmp_path):
    """CSV files written by qusi_lab.io, read by the default reader; target ids by rule, stem or header."""
    for i in range(4):
        lc = ql.LightCurve(np.arange(100) / 48.0, 1.0 + 0.001 * np.sin(np.arange(100) + i))
        write_csv(lc, tmp_path / ("positive" if i % 2 else "negative") / f"star{i}-sector{i % 2}.csv")
    dataset = LightCurveDataset.from_directory(
        tmp_path, input_length=LENGTH, target_id_from_path=lambda path: Path(path).stem.split("-")[0]
    )
    assert dataset.target_ids == ("star0", "star2", "star1", "star3")
    assert LightCurveDataset.from_directory(tmp_path, input_length=LENGTH).target_ids[0] == "star0-sector0"
    # Ids read from the files themselves: SPOC headers name the TIC even under an uninformative file name.
    write_star(tmp_path / "positive" / "renamed.fits", tic_id=4242, sector=3)
    corrupt(tmp_path / "negative" / "broken.fits")
    from_meta = LightCurveDataset.from_directory(tmp_path, input_length=LENGTH, target_ids="meta")
    assert from_meta.target_ids[from_meta.sources.index(tmp_path / "positive" / "renamed.fits")] == "TIC 4242"
    assert list(from_meta.problems["path"]) == [str(tmp_path / "negative" / "broken.fits")]
    assert [float(y) for _, y in (dataset[i] for i in range(4))] == [0.0, 0.0, 1.0, 1.0]
