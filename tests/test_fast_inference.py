"""Fast CPU inference paths: channels-last conv blocks and chunks spread over single-threaded workers
give the model's own outputs, for every architecture, without changing torch's thread settings."""

from __future__ import annotations

import copy
import pickle
import threading

import pytest
import torch
from test_models import _randomize_batch_norm_statistics
from torch import nn

from qusi_lab import models
from qusi_lab.models.base import ConvNormAct

NAMES = ["astronet", "hadryss", "resnet1d", "transformer"]


def _trained_looking(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial batch-norm statistics and affine parameters, as after training; eval mode."""
    _randomize_batch_norm_statistics(model, seed)
    return model.eval()


@pytest.mark.parametrize("name", NAMES)
def test_channels_last_blocks_give_the_model_outputs(name: str) -> None:
    torch.manual_seed(0)
    model = _trained_looking(models.create(name, input_length=1500, n_outputs=2))
    fused = models.fuse_for_inference(model)
    fast = models.to_channels_last(fused)
    blocks = sum(isinstance(module, ConvNormAct) for module in fused.modules())
    converted = sum(isinstance(module, models.ChannelsLastConvBlock) for module in fast.modules())
    left = [module for module in fast.modules() if isinstance(module, ConvNormAct)]
    assert converted > 0 and converted + len(left) == blocks
    # Only blocks whose pooling is not plain non-overlapping windows (Astronet's, ResNet's stem) stay.
    assert all(isinstance(block.pool, nn.MaxPool1d) and (block.pool.stride != block.pool.kernel_size
                                                         or block.pool.padding or block.pool.ceil_mode)
               for block in left)
    if name == "hadryss":
        assert not left
    assert any(isinstance(module, ConvNormAct) for module in fused.modules()), "the fused model is left as is"
    x = torch.randn(5, 1500)
    with torch.inference_mode():
        assert torch.allclose(fast(x), model(x), atol=1e-5, rtol=1e-5)


def test_channels_last_block_matches_pooling_and_activation_orders() -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 4, 101)  # odd length: the pooling drops the last partial window, as MaxPool1d does
    x[0, 1, 10] = float("nan")
    for activation in ("leaky_relu", "gelu", "none"):  # GELU is not monotonic: pooled after activating
        for pooling in (1, 2, 3):
            block = ConvNormAct(4, 8, 3, pooling=pooling, activation=activation, batch_norm=False).eval()
            fast = models.ChannelsLastConvBlock(block)
            expected, got = block(x), fast(x)
            assert got.shape == expected.shape
            assert torch.allclose(got, expected, atol=1e-6, equal_nan=True), (activation, pooling)
            block.pool = nn.AvgPool1d(pooling) if pooling > 1 else nn.Identity()  # average pooling too
            block.pool_first = False
            expected, got = block(x), models.ChannelsLastConvBlock(block)(x)
            assert torch.allclose(got, expected, atol=1e-6, equal_nan=True), (activation, pooling, "average")
    strided = ConvNormAct(4, 8, 3, stride=2, batch_norm=False).eval()
    assert torch.allclose(models.ChannelsLastConvBlock(strided)(x), strided(x), atol=1e-6, equal_nan=True)


def test_blocks_with_batch_norm_or_dropout_are_not_converted() -> None:
    model = models.Hadryss(input_length=600).eval()
    assert not any(isinstance(module, models.ChannelsLastConvBlock)
                   for module in models.to_channels_last(model).modules())
    with pytest.raises(ValueError, match="fused ConvNormAct"):
        models.ChannelsLastConvBlock(ConvNormAct(1, 8, 3))


def test_worker_threads_give_the_same_outputs_and_leave_torch_threads_alone() -> None:
    torch.manual_seed(0)
    model = _trained_looking(models.Hadryss(input_length=2000))
    x = torch.randn(70, 2000)
    with torch.inference_mode():
        expected = model(x)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        fast = models.optimize_for_inference(model, chunk_size=16)  # threads=None: torch's count, 2
        for _ in range(2):  # the second call reuses the worker pool
            assert torch.allclose(fast(x), expected, atol=1e-5, rtol=1e-5)
        assert fast._pool is not None and fast._pool_size == 2
        assert torch.get_num_threads() == 2
        seen: list[int] = []
        thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        assert seen == [2], "threads started later keep torch's default"
        one = models.optimize_for_inference(model, threads=1)
        assert torch.allclose(one(x), expected, atol=1e-5, rtol=1e-5) and one._pool is None
        assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()
        copied, unpickled = copy.deepcopy(fast), pickle.loads(pickle.dumps(fast))
        assert torch.allclose(copied(x), expected, atol=1e-5) and torch.allclose(unpickled(x), expected, atol=1e-5)
    finally:
        torch.set_num_threads(previous)
    with pytest.raises(ValueError, match="threads must be at least 1"):
        models.InferenceModel(model, threads=0)
