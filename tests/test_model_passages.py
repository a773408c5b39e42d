"""Tests for HadryssPassages (qusi_lab.models.passages): shapes, the autocorrelation layer, gradients,
bundles, fusion, the registry, and a small learning test on periodic pulses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import qusi_lab as ql
from qusi_lab import models
from qusi_lab.models.passages import Autocorrelation, HadryssPassages
from qusi_lab.training import save_bundle
from qusi_lab.training.metrics import auc_roc
from qusi_lab.transforms import default_preprocessing


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _randomize_batch_norm_statistics(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial running statistics and affine parameters in every BatchNorm (as after training)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                size = module.num_features
                assert module.running_mean is not None and module.running_var is not None
                module.running_mean.copy_(torch.randn(size, generator=generator) * 0.3)
                module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(size, generator=generator) * 0.1)


def _numpy_autocorrelation(curve: np.ndarray, max_lag: int) -> np.ndarray:
    y = curve - curve.mean()
    full = np.correlate(y, y, mode="full")[len(y) - 1:]
    return full[: max_lag + 1] / np.dot(y, y)


# ------------------------------------------------------------------------------------------ shapes
@pytest.mark.parametrize("length", [256, 1024, 4096, 10000])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_output_shapes_at_every_length(length: int, n_outputs: int) -> None:
    torch.manual_seed(0)
    model = HadryssPassages(input_length=length, n_outputs=n_outputs).eval()
    assert model.final_length <= 10 and model.acf_final_length <= 10
    assert model.acf_length == length // 2 + 1
    x = torch.randn(2, length)
    with torch.no_grad():
        logits = model(x)
        with_channel_axis = model(x.unsqueeze(1))
    assert logits.shape == (2, n_outputs) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    assert torch.equal(logits, with_channel_axis)
    features = model.features(x)
    assert features.shape == (2, 20 * model.final_length + 16 * model.acf_final_length)


def test_wrong_shapes_and_arguments_are_refused() -> None:
    model = HadryssPassages(input_length=300)
    with pytest.raises(ValueError, match="expects input of shape"):
        model(torch.zeros(2, 3, 300))
    with pytest.raises(ValueError, match="max_lag"):
        HadryssPassages(input_length=300, max_lag=300)
    with pytest.raises(ValueError, match="n_outputs"):
        HadryssPassages(input_length=300, n_outputs=0)


def test_other_input_lengths_still_run() -> None:
    model = HadryssPassages(input_length=1000).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1500)).shape == (2, 1)


# ------------------------------------------------------------------------------- autocorrelation
@pytest.mark.parametrize("length", [7, 256, 1001])
def test_autocorrelation_equals_the_numpy_reference(length: int) -> None:
    rng = np.random.default_rng(length)
    curves = rng.normal(3.0, 2.0, size=(4, length))
    max_lag = length // 2
    acf = Autocorrelation(max_lag)(torch.tensor(curves, dtype=torch.float64))
    assert acf.shape == (4, 1, max_lag + 1)
    for row, curve in enumerate(curves):
        np.testing.assert_allclose(acf[row, 0].numpy(), _numpy_autocorrelation(curve, max_lag), atol=1e-10)
    # float32, as inside the network: the reference to float rounding
    acf32 = Autocorrelation(max_lag)(torch.tensor(curves, dtype=torch.float32).unsqueeze(1))
    np.testing.assert_allclose(acf32[:, 0].numpy(), acf[:, 0].numpy(), atol=1e-5)
    assert torch.allclose(acf32[:, 0, 0], torch.ones(4), atol=1e-6)


def test_autocorrelation_is_not_circular() -> None:
    length = 200
    curve = np.zeros(length)
    curve[[5, length - 6]] = 1.0  # one spike near each end: 189 samples apart, 11 apart around the circle
    acf = Autocorrelation(length - 1)(torch.tensor(curve[None], dtype=torch.float64))[0, 0].numpy()
    np.testing.assert_allclose(acf, _numpy_autocorrelation(curve, length - 1), atol=1e-10)
    y = curve - curve.mean()
    circular = np.real(np.fft.ifft(np.abs(np.fft.fft(y)) ** 2)) / np.dot(y, y)
    assert circular[11] > 0.4  # a circular correlation would see the two spikes 11 samples apart
    assert abs(acf[11]) < 0.01 and acf[189] > 0.4


def test_constant_curves_give_a_zero_autocorrelation() -> None:
    acf = Autocorrelation(10)(torch.full((2, 50), 4.0))
    assert torch.equal(acf, torch.zeros(2, 1, 11))


def test_repeated_pulses_add_into_peaks_at_multiples_of_the_period() -> None:
    length, period = 1000, 150
    t = np.arange(length)
    heights = []
    for passages in (2, 4, 6):
        curve = sum(np.exp(-0.5 * ((t - 60 - k * period) / 4.0) ** 2) for k in range(passages))
        acf = Autocorrelation(length // 2)(torch.tensor(curve[None], dtype=torch.float32))[0, 0].numpy()
        assert int(np.argmax(acf[20:])) + 20 == period  # past the pulse's own width, the highest lag is P
        if passages > 2:
            assert abs(int(np.argmax(acf[2 * period - 20:2 * period + 20])) - 20) <= 1  # and at 2 P
        heights.append(acf[period])
    # more passages, a higher peak, (n - 1) / n of lag 0: the evidence adds up
    np.testing.assert_allclose(heights, [1 / 2, 3 / 4, 5 / 6], atol=0.02)


# ------------------------------------------------------------------------------- gradients, bundles
def test_gradients_reach_both_columns() -> None:
    torch.manual_seed(0)
    model = HadryssPassages(input_length=512, n_outputs=2).train()
    x = torch.randn(4, 512)
    loss = models.loss_for_task("multiclass")(model(x), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    missing = [key for key, parameter in model.named_parameters()
               if parameter.grad is None or not torch.isfinite(parameter.grad).all()]
    assert missing == []
    for column in (model.blocks, model.acf_blocks):
        assert sum(float(p.grad.abs().sum()) for p in column.parameters() if p.grad is not None) > 0
    # and through the autocorrelation layer to the input
    curves = torch.randn(2, 64, requires_grad=True)
    Autocorrelation(32)(curves).sum().backward()
    assert curves.grad is not None and torch.isfinite(curves.grad).all() and curves.grad.abs().sum() > 0


def test_bundle_round_trip_gives_identical_scores(tmp_path) -> None:
    torch.manual_seed(0)
    length = 512
    model = HadryssPassages(input_length=length).eval()
    _randomize_batch_norm_statistics(model)
    folder = save_bundle(model, tmp_path / "passages", task="binary", label_names=["negative", "positive"],
                         preprocessing=default_preprocessing(length))
    loaded = ql.load(folder)
    assert isinstance(loaded.network, HadryssPassages) and not loaded.training
    assert ql.models.bundle_of(loaded).architecture == "hadryss_passages"
    assert loaded.config == model.config
    x = torch.randn(6, length)
    with torch.inference_mode():
        expected = models.scores_from_logits(model(x), "binary")
        assert torch.equal(loaded.scores_from_outputs(loaded(x)), expected)


def test_fused_model_equals_unfused_in_eval_mode() -> None:
    torch.manual_seed(0)
    model = HadryssPassages(input_length=2000, n_outputs=3).eval()
    _randomize_batch_norm_statistics(model)
    fused = models.fuse_for_inference(model)
    assert not any(isinstance(module, (nn.BatchNorm1d, nn.Dropout, nn.Dropout1d)) for module in fused.modules())
    x = torch.randn(5, 2000)
    with torch.no_grad():
        expected = model(x)
        assert torch.allclose(fused(x), expected, atol=1e-5, rtol=1e-5)
        optimized = models.optimize_for_inference(model, chunk_size=2)  # channels-last blocks, chunks
        assert torch.allclose(optimized(x), expected, atol=1e-5, rtol=1e-5)


def test_registry_builds_and_rebuilds_it() -> None:
    model = models.create("hadryss_passages", input_length=3000, n_outputs=2)
    assert isinstance(model, HadryssPassages) and model.name == "hadryss_passages"
    assert model.input_length == 3000 and model.n_outputs == 2
    assert isinstance(models.create("HadryssPassages", input_length=300), HadryssPassages)
    rebuilt = models.from_config(model.name, model.config)
    assert rebuilt.config == model.config
    assert models.model_for_task("hadryss_passages", 800, "multiclass", n_classes=4).n_outputs == 4


# -------------------------------------------------------------------------------------- learning
PULSE_WIDTH = 3.0  # Gaussian sigma, samples
PULSE_SNR = 2.0  # matched-filter signal-to-noise ratio of one passage


def _periodic_pulse_data(count: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """White noise (sigma 1); every other curve has 3 to 6 narrow Gaussian pulses, evenly spaced.

    Each pulse alone has a matched-filter SNR of ``PULSE_SNR`` (2): with an unknown position in 512
    samples, an ideal single-pulse detector (the maximum of the matched filter) separates one such
    pulse from noise with an AUC of only ~0.6. Telling the curves apart needs the passages together.
    """
    rng = np.random.default_rng(seed)
    curves = rng.normal(0.0, 1.0, size=(count, length))
    labels = np.arange(count) % 2
    amplitude = PULSE_SNR / np.sqrt(PULSE_WIDTH * np.sqrt(np.pi))
    t = np.arange(length)
    for row in np.flatnonzero(labels):
        passages = int(rng.integers(3, 7))
        period = length / passages * rng.uniform(0.8, 0.95)
        first = rng.uniform(2 * PULSE_WIDTH, length - (passages - 1) * period - 2 * PULSE_WIDTH)
        for k in range(passages):
            curves[row] += amplitude * np.exp(-0.5 * ((t - first - k * period) / PULSE_WIDTH) ** 2)
    return torch.tensor(curves, dtype=torch.float32), torch.tensor(labels, dtype=torch.float32)


def test_learns_periodic_pulses_too_faint_to_see_one_at_a_time() -> None:
    # Measured (seeds 0, 1, 2): validation AUC 0.895, 0.896, 0.898 after 400 steps (~8 s on one thread).
    torch.manual_seed(0)
    length = 512
    curves, labels = _periodic_pulse_data(2048, length, seed=0)
    validation, validation_labels = _periodic_pulse_data(512, length, seed=100)
    model = models.model_for_task("hadryss_passages", length, "binary")
    loss_function = models.loss_for_task("binary")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(400):
        batch = torch.randint(0, len(curves), (32,), generator=generator)
        loss = loss_function(model(curves[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        scores = models.scores_from_logits(model.eval()(validation), "binary").numpy()
    auc = auc_roc(scores, validation_labels.numpy().astype(int))
    accuracy = float(((scores > 0.5) == validation_labels.numpy()).mean())
    print(f"validation AUC {auc:.3f}, accuracy {accuracy:.3f}")
    assert auc > 0.8
