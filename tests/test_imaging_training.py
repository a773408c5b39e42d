"""MLAR samples through the light-curve training machinery: ql.train, ql.evaluate, save/load, score."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qusi_lab as ql
from qusi_lab import models
from qusi_lab.errors import ImagingError
from qusi_lab.imaging.dataset import MlarAugmentation, MlarDataset
from qusi_lab.imaging.samples import MlarSamples
from qusi_lab.models.scoring import InferenceError
from qusi_lab.training import evaluate, train

LEVELS, SIZE = 6, 7
SMALL = {"filters": (8, 16), "dense_units": 32, "dropout": 0.1}


def toy_samples(n: int = 200, *, seed: int = 0, amplitude: float = 3.0, shuffle_labels: bool = False) -> MlarSamples:
    """Unit noise; positives add a Gaussian blob of ``amplitude`` sigma in the centre of every level."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, LEVELS, SIZE, SIZE)).astype(np.float32)
    y = np.arange(n) % 2
    yy, xx = np.indices((SIZE, SIZE)) - SIZE // 2
    blob = amplitude * np.exp(-(yy**2 + xx**2) / (2 * 1.2**2))
    x[y == 1] += blob.astype(np.float32)
    if shuffle_labels:
        y = rng.permutation(y)
    separation = np.repeat([8.0, 12.0, 16.0, 20.0], -(-n // 4))[:n]
    return MlarSamples(x, y.astype(np.int64), separation, np.zeros((n, 2), dtype=np.int64),
                       np.where(y == 1, 1e-3, 0.0), {"cube": "toy.fits", "fwhm": 4.0, "max_variance": 0.95, "ladder": "distinct",
                        "fit_region": "ring", "min_separation_fwhm": 1.0})


def small_network() -> torch.nn.Module:
    return models.create("mlar_conv3d", levels=LEVELS, patch_size=SIZE, **SMALL)


def fit(train_set: MlarDataset, validation: MlarDataset, steps: int = 150) -> ql.TrainingResult:
    return train(small_network(), train_set, validation, max_steps=steps, batch_size=32, validation_every=50,
                 learning_rate=3e-3, progress=False, seed=0, balance="equal")


@pytest.fixture(scope="module")
def trained() -> tuple[ql.TrainingResult, MlarDataset]:
    validation = MlarDataset(toy_samples(100, seed=1), augment=False)
    return fit(MlarDataset(toy_samples(200, seed=0)), validation), validation


def test_train_separates_toy_companions(trained):
    result, validation = trained
    assert result.best_metrics["auc_roc"] > 0.9
    report = evaluate(result.model, validation)
    assert report.metrics["auc_roc"] > 0.9
    assert report.scores["path"].iloc[0] == "<samples #0: r=8.0 px, negative>"
    assert result.model.input_shape == (LEVELS, SIZE, SIZE)
    assert result.model.positive_class == "companion" and result.model.preprocessing is None


def test_shuffled_labels_fall_to_chance():
    # Labels independent of the patches, in both sets: nothing but a leak of the label into the inputs
    # (stream, augmentation, order) could lift the validation AUC or bring the training loss down.
    # (Validating on the true labels would not do: any network ranks by the blob, one way or the other.)
    validation = MlarDataset(toy_samples(200, seed=1, shuffle_labels=True), augment=False)
    result = fit(MlarDataset(toy_samples(200, seed=0, shuffle_labels=True)), validation, steps=100)
    assert 0.35 < evaluate(result.model, validation).metrics["auc_roc"] < 0.65
    assert result.history["train_loss"].iloc[-1] > 0.6


def test_saved_model_scores_the_same(trained, tmp_path):
    result, validation = trained
    folder = result.model.save(tmp_path / "mlar")
    loaded = ql.load(folder)
    assert loaded.input_shape == (LEVELS, SIZE, SIZE) and loaded.architecture == "mlar_conv3d"
    inputs = torch.from_numpy(validation.samples.x)
    with torch.no_grad():
        assert torch.equal(result.model(inputs), loaded(inputs))
    assert np.array_equal(result.model.score(validation.samples.x), loaded.score(inputs))
    assert evaluate(folder, validation).metrics["auc_roc"] == evaluate(result.model, validation).metrics["auc_roc"]
    with pytest.raises(InferenceError, match="input shape mismatch"):
        loaded.score(np.zeros((2, LEVELS, SIZE + 2, SIZE + 2)))
    with pytest.raises(InferenceError, match="not light curves"):
        loaded.input_pipeline()


def test_stream_reproducible_and_balanced():
    samples = toy_samples(40)
    samples.y[:] = 0
    samples.y[:4] = 1  # 10% companions
    dataset = MlarDataset(samples)

    def draw(seed: int, balance=None) -> tuple[np.ndarray, np.ndarray]:
        iterator = iter(dataset.stream(seed=seed, balance=balance))
        pairs = [next(iterator) for _ in range(400)]
        return np.stack([x.numpy() for x, _ in pairs]), np.array([float(y) for _, y in pairs])

    first, labels = draw(3, "equal")
    again, labels_again = draw(3, "equal")
    assert np.array_equal(first, again) and np.array_equal(labels, labels_again)
    assert not np.array_equal(first, draw(4, "equal")[0])
    assert 0.4 < labels.mean() < 0.6
    assert draw(3)[1].mean() < 0.2


def test_augmentation_keeps_shapes_and_level_sums():
    samples = toy_samples(12)
    rotations = MlarDataset(samples, augment=MlarAugmentation(shift=0.0, average_negatives=0.0))
    rng = np.random.default_rng(0)
    for index in range(12):
        x, _ = rotations.sample(index, rng=rng, augment=True)
        assert tuple(x.shape) == (LEVELS, SIZE, SIZE) and x.dtype == torch.float32
        np.testing.assert_allclose(x.sum(dim=(1, 2)).numpy(), samples.x[index].sum(axis=(1, 2)), rtol=1e-5,
                                   atol=1e-4)
    assert torch.equal(rotations[0][0], torch.from_numpy(samples.x[0]))  # no augmentation outside streams


def test_subpixel_shift_moves_every_level_alike_within_the_bound():
    yy, xx = np.indices((SIZE, SIZE)) - SIZE // 2
    blob = np.exp(-(yy**2 + xx**2) / (2 * 1.3**2)).astype(np.float32)
    samples = MlarSamples(np.repeat(np.tile(blob, (LEVELS, 1, 1))[None], 4, axis=0), np.array([0, 1, 0, 1]),
                          np.full(4, 8.0), np.zeros((4, 2), np.int64), np.zeros(4))
    dataset = MlarDataset(samples, augment=MlarAugmentation(rotate=False, flip=False, shift=0.5))
    rng = np.random.default_rng(3)
    offsets = []
    for draw in range(40):
        x = dataset.sample(draw % 4, rng=rng, augment=True)[0].numpy()
        weights = x.sum(axis=(1, 2))
        centroid = np.stack([(x * yy).sum(axis=(1, 2)) / weights, (x * xx).sum(axis=(1, 2)) / weights], axis=1)
        np.testing.assert_allclose(centroid, centroid[:1].repeat(LEVELS, axis=0), atol=1e-5)  # levels together
        offsets.append(centroid[0])
    offsets = np.asarray(offsets)
    assert np.abs(offsets).max() <= 0.55  # within half a pixel (+ the periodic edge's effect)
    assert offsets.std(axis=0).min() > 0.15  # and spread over it, in both axes
    noise = MlarSamples(np.random.default_rng(4).normal(size=(200, LEVELS, SIZE, SIZE)).astype(np.float32),
                        np.arange(200) % 2, np.full(200, 8.0), np.zeros((200, 2), np.int64), np.zeros(200))
    shifted = np.stack([MlarDataset(noise, augment=MlarAugmentation(rotate=False, flip=False, shift=0.5))
                        .sample(i, rng=rng, augment=True)[0].numpy() for i in range(200)])
    assert abs(shifted.std() / noise.x.std() - 1.0) < 1e-3  # the noise level the maps have, not smoothed
    unshifted = MlarDataset(samples, augment=MlarAugmentation(rotate=False, flip=False, shift=0.0))
    assert np.array_equal(unshifted.sample(1, rng=rng, augment=True)[0].numpy(), samples.x[1])
    with pytest.raises(ValueError, match="shift"):
        MlarAugmentation(shift=2.0)


def test_the_model_records_the_separations_it_learnt(trained, tmp_path):
    result, validation = trained
    data = result.model.data_config
    assert data["kind"] == "mlar" and data["separations_fwhm"] == [2.0, 3.0, 4.0, 5.0]
    assert (data["n_levels"], data["patch_size"], data["max_variance"]) == (LEVELS, SIZE, 0.95)
    assert (data["ladder"], data["fit_region"], data["min_separation_fwhm"]) == ("distinct", "ring", 1.0)
    # samples made before these were recorded: the only recipe there was then
    old = MlarDataset(MlarSamples(validation.samples.x, validation.samples.y, validation.samples.separation,
                                  validation.samples.position, validation.samples.flux, {"fwhm": 4.0}))
    assert (old.data_config["ladder"], old.data_config["fit_region"], old.data_config["min_separation_fwhm"]) == (
        "variance", "band", None)
    loaded = ql.load(result.model.save(tmp_path / "recorded"))
    assert loaded.data_config == data
    assert ql.imaging.trained_separations(loaded) == (2.0, 5.0)


def test_patch_averaging_keeps_unit_noise():
    rng = np.random.default_rng(1)
    samples = MlarSamples(rng.normal(size=(60, LEVELS, SIZE, SIZE)).astype(np.float32), np.zeros(60, np.int64),
                          np.full(60, 10.0), np.zeros((60, 2), np.int64), np.zeros(60))
    dataset = MlarDataset(samples, augment=MlarAugmentation(rotate=False, flip=False, shift=0.0,
                                                            average_negatives=1.0))
    averaged = np.stack([dataset.sample(i, rng=rng, augment=True)[0].numpy() for i in range(60)])
    assert not np.array_equal(averaged, samples.x)
    assert 0.9 < averaged.std() < 1.1


def test_bad_samples_raise_imaging_errors(tmp_path):
    samples = toy_samples(10)
    samples.x[3, 1, 2, 2] = np.nan
    with pytest.raises(ImagingError, match="NaN"):
        MlarDataset(samples)
    path = samples.save(tmp_path / "bad.npz")
    with pytest.raises(ImagingError, match="bad.npz: 1 MLAR patches hold NaN"):
        MlarDataset.from_file(path)
    flat = toy_samples(10)
    flat.x = flat.x.reshape(10, LEVELS, -1)
    with pytest.raises(ImagingError, match=r"\(n, levels, size, size\)"):
        MlarDataset(flat)
    labels = toy_samples(10)
    labels.y[0] = 2
    with pytest.raises(ImagingError, match="0 \\(no companion\\) or 1"):
        MlarDataset(labels)
    good = toy_samples(10)
    name = MlarDataset.from_file(good.save(tmp_path / "good.npz")).source_name(1)
    assert name == f"{tmp_path / 'good.npz'}#1 (r=8.0 px, positive)"


def test_light_curve_model_on_mlar_patches_names_the_shapes():
    dataset = MlarDataset(toy_samples(20))
    network = models.create("hadryss", input_length=LEVELS * SIZE * SIZE)  # same number of values
    with pytest.raises(ValueError, match=r"input shape mismatch.*length 294.*shape \(6, 7, 7\)"):
        train(network, dataset, max_steps=1, progress=False)
    with pytest.raises(ValueError, match="input shape mismatch"):
        evaluate(network, dataset)
    other = MlarDataset(MlarSamples(np.zeros((4, LEVELS, 9, 9), np.float32), np.array([0, 1, 0, 1]),
                                    np.full(4, 9.0), np.zeros((4, 2), np.int64), np.zeros(4)))
    with pytest.raises(ValueError, match=r"validation inputs \(6, 9, 9\)"):
        train(small_network(), dataset, other, max_steps=1, progress=False)


def test_resumed_run_matches_an_uninterrupted_one(tmp_path):
    train_set = MlarDataset(toy_samples(40), path=tmp_path / "samples.npz")  # names as a file would give
    validation = MlarDataset(toy_samples(20, seed=1), augment=False)
    # A constant rate: with the cosine, a run of 5 steps decays otherwise than the first 5 of 10.
    settings = {"batch_size": 8, "validation_every": 5, "progress": False, "seed": 2, "scheduler": "constant",
                "warmup_steps": 0}
    train(small_network(), train_set, validation, max_steps=5, checkpoint_dir=tmp_path / "run", **settings)
    resumed = train(small_network(), train_set, validation, max_steps=10, checkpoint_dir=tmp_path / "run",
                    **settings)
    straight = train(small_network(), train_set, validation, max_steps=10, **settings)
    assert resumed.resumed_from == 5
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
