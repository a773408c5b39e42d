"""Tests for qusi_lab.models: shapes at many lengths, automatic scaling, heads, registry, configs, fusion,
training and determinism."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import torch
from torch import nn

from qusi_lab import models
from qusi_lab.models.base import ConvNormAct, ceil_division, downsampling_schedule, floor_division

NAMES = ["astronet", "hadryss", "hadryss_passages", "resnet1d", "transformer"]
LENGTHS = [500, 3500, 4096, 20000]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small batches run fastest on one thread, and a shared CPU does not stall thread barriers."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _conv_blocks(model: models.Hadryss) -> list[ConvNormAct]:
    blocks = list(model.blocks)
    assert all(isinstance(block, ConvNormAct) for block in blocks)
    return blocks  # type: ignore[return-value]


def _randomize_batch_norm_statistics(model: nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial running statistics and affine parameters (as after training)."""
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


def test_available_lists_every_builtin_model() -> None:
    assert models.available() == NAMES


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("length", LENGTHS)
def test_every_model_runs_at_every_length(name: str, length: int) -> None:
    torch.manual_seed(0)
    model = models.create(name, input_length=length, n_outputs=3).eval()
    x = torch.randn(2, length)
    with torch.no_grad():
        logits = model(x)
        logits_with_channel_axis = model(x.unsqueeze(1))
    assert logits.shape == (2, 3)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    assert torch.equal(logits, logits_with_channel_axis)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_input_shape_is_refused(name: str) -> None:
    model = models.create(name, input_length=500)
    with pytest.raises(ValueError, match="expects input of shape"):
        model(torch.zeros(2, 3, 500))


@pytest.mark.parametrize("length", LENGTHS + [100_000])
def test_hadryss_scales_its_pooling_to_the_length(length: int) -> None:
    model = models.Hadryss(input_length=length)
    assert model.filters == (8, 8, 16, 32, 64, 128, 128, 128, 20)
    assert [block.conv.out_channels for block in _conv_blocks(model)] == [8, 8, 16, 32, 64, 128, 128, 128, 20]
    assert [block.conv.kernel_size[0] for block in _conv_blocks(model)] == [3] * 9
    assert [layer.out_features for layer in model.dense if isinstance(layer, nn.Linear)] == [20, 20]
    assert model.feature_lengths[-1] <= model.config["max_final_length"] == 10
    # Pooling is only as strong as needed: one factor less anywhere and the last map is too long.
    for index, factor in enumerate(model.pooling_sizes):
        if factor > 1:
            weaker = list(model.pooling_sizes)
            weaker[index] -= 1
            length_after = length
            for size in weaker:
                length_after //= size
            assert length_after > 10
    # The recorded lengths are the real ones: measure them with hooks.
    measured: list[int] = []
    hooks = [block.register_forward_hook(lambda _m, _i, output: measured.append(output.shape[-1]))
             for block in model.blocks]
    model.eval()(torch.zeros(1, length))
    for hook in hooks:
        hook.remove()
    assert measured == model.feature_lengths


def test_hadryss_skips_pooling_where_not_needed() -> None:
    model = models.Hadryss(input_length=500)
    assert model.pooling_sizes == [2, 2, 2, 2, 2, 2, 1, 1, 1]
    assert isinstance(_conv_blocks(model)[8].pool, nn.Identity)
    assert models.Hadryss(input_length=10).pooling_sizes == [1] * 9
    assert models.Hadryss(input_length=4096, max_final_length=16).pooling_sizes == [2] * 8 + [1]


def test_hadryss_runs_on_other_lengths_through_its_safety_net() -> None:
    model = models.Hadryss(input_length=4096).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 5000)).shape == (2, 1)
        assert model(torch.randn(2, 3000)).shape == (2, 1)


def test_downsampling_schedule_rules() -> None:
    assert downsampling_schedule(4096, 9, 16) == [2, 2, 2, 2, 2, 2, 2, 2, 1]
    assert downsampling_schedule(16, 9, 16) == [1] * 9
    assert downsampling_schedule(4096, 5, 16, length_after=ceil_division) == [4, 3, 3, 3, 3]
    assert floor_division(7, 2) == 3 and ceil_division(7, 2) == 4
    with pytest.raises(ValueError, match="cannot be reduced"):
        downsampling_schedule(10**7, 2, 16, max_factor=4)


def test_resnet_and_transformer_scale_their_strides() -> None:
    for length in LENGTHS:
        resnet = models.ResNet1D(input_length=length)
        assert resnet.feature_lengths[-1] <= 16
        assert resnet.features(torch.zeros(1, length)).shape[-1] == resnet.feature_lengths[-1]
        transformer = models.TransformerClassifier(input_length=length)
        assert transformer.number_of_tokens <= 128
        assert transformer.eval().tokens(torch.zeros(1, length)).shape == (1, transformer.number_of_tokens, 64)


def test_astronet_local_view_is_centred_on_the_deepest_dip() -> None:
    model = models.AstronetGlobalLocal(input_length=4096).eval()
    assert model.local_length == 128
    curves = torch.randn(3, 4096, generator=torch.Generator().manual_seed(1)) * 0.01
    for row, centre in enumerate([2000, 10, 4090]):  # middle, and near both edges (edge padding)
        curves[row, max(0, centre - 6):centre + 7] -= 1.0
    crops, centres = model.local_view(curves)
    assert crops.shape == (3, 1, 128)
    # The running mean (17 samples) is flat at the bottom of a 13-sample dip: noise picks the exact index.
    assert all(abs(found - expected) <= 4 for found, expected in zip(centres.tolist(), [2000, 10, 4090], strict=True))
    middle = int(centres[0])
    assert torch.equal(crops[0, 0], curves[0, middle - 64:middle + 64])
    for row in range(3):  # every dipped sample is inside the crop
        assert int((crops[row] < -0.5).sum()) >= int((curves[row] < -0.5).sum())
    assert torch.all(crops[1, 0, : 64 - int(centres[1])] == curves[1, 0])  # replicate padding at the start
    with torch.no_grad():
        default = model(curves)
        supplied = model(curves, local_view=crops)
        other = model(curves, local_view=torch.zeros(3, 128))
    assert torch.equal(default, supplied)
    assert not torch.equal(default, other)


# ---------------------------------------------------------------------------------------------- heads
def test_heads_for_each_task() -> None:
    binary = models.model_for_task("hadryss", 1000, "binary")
    multiclass = models.model_for_task("resnet1d", 1000, "multiclass", n_classes=4)
    regression = models.model_for_task("transformer", 1000, "regression", n_targets=2)
    assert (binary.n_outputs, multiclass.n_outputs, regression.n_outputs) == (1, 4, 2)
    x = torch.randn(5, 1000)
    for model, task, targets in [
        (binary, "binary", torch.tensor([0, 1, 1, 0, 1])),
        (multiclass, "multiclass", torch.tensor([0, 3, 2, 1, 0])),
        (regression, "regression", torch.randn(5, 2)),
    ]:
        logits = model(x)
        loss = models.loss_for_task(task)(logits, targets)
        loss.backward()
        assert loss.ndim == 0 and torch.isfinite(loss)
    scores = models.scores_from_logits(binary.eval()(x), "binary")
    assert scores.shape == (5,) and ((scores > 0) & (scores < 1)).all()
    probabilities = models.scores_from_logits(multiclass.eval()(x), "multiclass")
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(5))
    assert models.scores_from_logits(torch.tensor([[2.5]]), "regression").tolist() == [2.5]
    assert models.make_head("multiclass", 20, n_classes=6).out_features == 6


def test_task_errors_and_weights() -> None:
    with pytest.raises(ValueError, match="unknown task"):
        models.outputs_for_task("ranking")
    with pytest.raises(ValueError, match="n_classes >= 2"):
        models.outputs_for_task("multiclass")
    # Binary class weights (negative, positive) become pos_weight = positive / negative.
    weighted = models.TaskLoss("binary", class_weights=[1.0, 3.0])
    plain = models.TaskLoss("binary")
    positive = torch.tensor([1.0])
    assert torch.isclose(weighted(torch.zeros(1, 1), positive), 3 * plain(torch.zeros(1, 1), positive))


def test_reset_output_changes_the_head() -> None:
    model = models.Hadryss(input_length=600)
    model.reset_output(5)
    assert model.n_outputs == 5 and model.config["n_outputs"] == 5
    assert model.eval()(torch.zeros(2, 600)).shape == (2, 5)


# ------------------------------------------------------------------------------------------- registry
def test_create_is_case_insensitive_and_accepts_class_names() -> None:
    assert isinstance(models.create("HADRYSS", input_length=500), models.Hadryss)
    assert isinstance(models.create("ResNet1D", input_length=500), models.ResNet1D)
    assert isinstance(models.create("AstronetGlobalLocal", input_length=500), models.AstronetGlobalLocal)
    assert isinstance(models.create("transformer_classifier", input_length=500), models.TransformerClassifier)


def test_registry_errors_name_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown model 'lstm'; available models: astronet, hadryss"):
        models.create("lstm")
    with pytest.raises(TypeError, match="cannot build model 'hadryss'.*n_layers"):
        models.create("hadryss", n_layers=3)


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip_rebuilds_an_identical_model(name: str) -> None:
    torch.manual_seed(0)
    model = models.create(name, input_length=1200, n_outputs=2)
    assert isinstance(model, models.LightCurveModel)
    _randomize_batch_norm_statistics(model)
    parameters = inspect.signature(type(model).__init__).parameters
    assert set(model.config) == set(parameters) - {"self"}, "config must record every constructor argument"
    saved = json.loads(json.dumps({"name": model.name, "config": model.config}))  # survives JSON
    torch.manual_seed(123)  # a different initialisation, overwritten by the state dict
    rebuilt = models.from_config(saved["name"], saved["config"])
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(3, 1200)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), rebuilt.eval()(x))
    assert rebuilt.config == model.config


# -------------------------------------------------------------------------------------------- fusion
@pytest.mark.parametrize("name", NAMES)
def test_fused_model_equals_unfused_in_eval_mode(name: str) -> None:
    torch.manual_seed(0)
    model = models.create(name, input_length=2000, n_outputs=3).eval()
    _randomize_batch_norm_statistics(model)
    fused = models.fuse_for_inference(model)
    assert not any(isinstance(module, nn.BatchNorm1d) for module in fused.modules())
    if isinstance(fused, models.Hadryss):
        assert not any(isinstance(module, (nn.Dropout, nn.Dropout1d)) for module in fused.modules())
    assert any(isinstance(module, nn.BatchNorm1d) for module in model.modules()), "original left untouched"
    x = torch.randn(4, 2000)
    with torch.no_grad():
        expected = model(x)
        assert torch.allclose(fused(x), expected, atol=1e-5, rtol=1e-5)
        optimized = models.optimize_for_inference(model, chunk_size=3)  # 4 curves -> two chunks
        assert torch.allclose(optimized(x), expected, atol=1e-5, rtol=1e-5)
    assert optimized.config == model.config  # type: ignore[union-attr]


def test_fuse_conv_batch_norm_in_plain_sequential() -> None:
    torch.manual_seed(0)
    network = nn.Sequential(nn.Conv1d(1, 4, 5, padding=2), nn.BatchNorm1d(4), nn.ReLU(), nn.Dropout(0.5))
    _randomize_batch_norm_statistics(network)
    network.eval()
    fused = models.fuse_for_inference(network)
    assert isinstance(fused, nn.Sequential)
    assert [type(layer) for layer in fused] == [nn.Conv1d, nn.Identity, nn.ReLU, nn.Identity]
    x = torch.randn(2, 1, 50)
    assert torch.allclose(fused(x), network(x), atol=1e-6)


def test_count_flops_matches_the_layer_arithmetic() -> None:
    model = models.Hadryss(input_length=4096)
    multiply_adds = 0
    length = 4096
    for block, pooling in zip(_conv_blocks(model), model.pooling_sizes, strict=True):
        conv = block.conv
        multiply_adds += conv.in_channels * conv.out_channels * conv.kernel_size[0] * length
        length //= pooling
    multiply_adds += sum(layer.in_features * layer.out_features
                         for layer in model.modules() if isinstance(layer, nn.Linear))
    assert models.count_flops(model) == 2 * multiply_adds
    assert models.activation_bytes_per_curve(model) == 8 * 4096 * 4


# ---------------------------------------------------------------------------------- training, seeds
def _box_dip_data(count: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian noise; half the curves have a box-shaped dip (depth 1.5 noise sigma, 25 samples wide)."""
    rng = np.random.default_rng(seed)
    curves = rng.normal(0.0, 0.5, size=(count, length))
    labels = np.arange(count) % 2
    for row in np.flatnonzero(labels):
        start = rng.integers(0, length - 25)
        curves[row, start:start + 25] -= 0.75
    return torch.tensor(curves, dtype=torch.float32), torch.tensor(labels, dtype=torch.float32)


def test_hadryss_learns_a_box_dip() -> None:
    torch.manual_seed(0)
    curves, labels = _box_dip_data(512, 500, seed=0)
    model = models.model_for_task("hadryss", 500, "binary")
    loss_function = models.loss_for_task("binary")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    losses = []
    model.train()
    for _ in range(100):
        batch = torch.randint(0, len(curves), (16,), generator=generator)
        loss = loss_function(model(curves[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print(f"loss {np.mean(losses[:10]):.3f} -> {np.mean(losses[-10:]):.3f}")
    assert np.mean(losses[:10]) > 0.6
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    test_curves, test_labels = _box_dip_data(200, 500, seed=1)
    with torch.no_grad():
        scores = models.scores_from_logits(model.eval()(test_curves), "binary")
    accuracy = ((scores > 0.5).float() == test_labels).float().mean().item()
    print(f"held-out accuracy {accuracy:.3f}")
    # Eval mode uses batch-norm running statistics, still catching up after 100 steps: a loose bound.
    assert accuracy > 0.8


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    model = models.create(name, input_length=800, n_outputs=2).train()
    curves, _ = _box_dip_data(4, 800, seed=2)
    loss = models.loss_for_task("multiclass")(model(curves), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    missing = [key for key, parameter in model.named_parameters()
               if parameter.grad is None or not torch.isfinite(parameter.grad).all()]
    assert missing == []
    gradient_sizes = [float(parameter.grad.abs().sum()) for parameter in model.parameters()
                      if parameter.grad is not None]
    assert sum(gradient_sizes) > 0


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_model_and_outputs(name: str) -> None:
    def build_and_run(seed: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        torch.manual_seed(seed)
        model = models.create(name, input_length=700).train()  # dropout active: randomness from the seed
        return model.state_dict(), model(torch.ones(3, 700))

    first_state, first_output = build_and_run(7)
    second_state, second_output = build_and_run(7)
    _, other_output = build_and_run(8)
    assert first_state.keys() == second_state.keys()
    assert all(torch.equal(first_state[key], second_state[key]) for key in first_state)
    assert torch.equal(first_output, second_output)
    assert not torch.equal(first_output, other_output)


@pytest.mark.parametrize("name", ["Hadryss", "ResNet1D", "AstronetGlobalLocal", "TransformerClassifier"])
def test_models_default_to_the_length_the_default_preprocessing_makes(name: str) -> None:
    from qusi_lab.transforms import DEFAULT_INPUT_LENGTH, default_preprocessing

    assert default_preprocessing().input_length == DEFAULT_INPUT_LENGTH == 2048
    model = getattr(models, name)().eval()
    assert model.input_length == DEFAULT_INPUT_LENGTH
    with torch.no_grad():
        assert model(torch.zeros(2, DEFAULT_INPUT_LENGTH)).shape == (2, 1)
