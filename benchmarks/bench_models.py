"""Forward throughput of the qusi_lab networks on this CPU, unfused vs fused, against qusi's Hadryss.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_models.py              # a few minutes on 2 cores
    .venv/bin/python benchmarks/bench_models.py --quick      # length 4096 only, short timings
    .venv/bin/python benchmarks/bench_models.py --threads 1  # pin torch's thread count
    .venv/bin/python benchmarks/bench_models.py --compile    # also torch.compile (tens of s per model)

Prints a markdown table: curves per second (batch 256, eval mode, ``torch.inference_mode``) for every
model at input lengths 3500 (qusi's default), 4096 (ours) and 10000, unfused, fused and optimized
(fused + chunked); FLOPs per curve (convolutions and matrix products, 2 per multiply-add, from
``torch.utils.flop_counter``); the achieved GFLOP/s as a fraction of this machine's peak, estimated
as the faster of a 2048 x 2048 float32 matmul and a large oneDNN Conv1d timed in the same run (MKL's
matmul runs its AVX2 path on AMD CPUs, about half of what oneDNN reaches); and the speed-up over
``qusi Hadryss (reference)``, a re-implementation of qusi's Hadryss forward pass (qusi's layer order:
valid Conv1d -> LeakyReLU -> Dropout -> MaxPool -> BatchNorm, pooling until the map is <= 10 long, the
dense layers as convolutions, sigmoid end module) so both run on the same torch. The reference is
also shown chunked, to separate what chunking alone buys from what fusion buys.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable

import torch
from _common import ROOT  # noqa: F401 - puts this checkout on the path
from torch import Tensor, nn

from qusi_lab import models

BATCH = 256
PEAK_SIZE = 2048


class _QusiBlock(nn.Module):
    """One qusi LightCurveNetworkBlock: conv -> leaky relu -> dropout -> max pool -> batch norm."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, pooling: int,
                 dropout: float = 0.0, *, batch_norm: bool = False, spatial: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size)
        self.act = nn.LeakyReLU()
        self.dropout = (nn.Dropout1d(dropout) if spatial else nn.Dropout(dropout)) if dropout > 0 else None
        self.pool = nn.MaxPool1d(pooling) if pooling > 1 else None
        self.norm = nn.BatchNorm1d(out_channels) if batch_norm else None

    def forward(self, x: Tensor) -> Tensor:
        x = self.act(self.conv(x))
        if self.dropout is not None:
            x = self.dropout(x)
        if self.pool is not None:
            x = self.pool(x)
        if self.norm is not None:
            x = self.norm(x)
        return x


class QusiHadryssReference(nn.Module):
    """qusi's Hadryss (src/qusi/internal/hadryss_model.py) as a baseline: same layers, same order."""

    def __init__(self, input_length: int = 3500) -> None:
        super().__init__()
        self.input_length = input_length
        pooling = [1] * 9
        index = 0
        while True:  # qusi's rule: valid convs (length - 2), raise pools round-robin until <= 10
            length = input_length
            for size in pooling:
                length = math.floor((length - 2) / size)
            if length <= 10:
                break
            pooling[index] += 1
            index = (index + 1) % 9
        self.dense_size = length
        filters = [8, 8, 16, 32, 64, 128, 128, 128, 20]
        blocks: list[nn.Module] = []
        in_channels = 1
        for i, (channels, size) in enumerate(zip(filters, pooling, strict=True)):
            middle = 2 <= i <= 7
            blocks.append(_QusiBlock(in_channels, channels, 3, size, 0.1 if i >= 2 else 0.0,
                                     batch_norm=middle, spatial=i != 8))
            in_channels = channels
        blocks.append(_QusiBlock(20, 20, self.dense_size, 1, 0.1))
        blocks.append(_QusiBlock(20, 20, 1, 1))
        self.blocks = nn.Sequential(*blocks)
        self.prediction_layer = nn.Conv1d(20, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = x.reshape([-1, 1, self.input_length])
        x = self.blocks(x)
        return torch.sigmoid(self.prediction_layer(x)).reshape(-1)


def best_times(runs: dict[str, Callable[[], object]], seconds: float) -> dict[str, float]:
    """Best wall time of each run, interleaving the runs round after round for ``seconds`` (>= 3 rounds).

    Interleaving, and keeping each run's best time, makes the ratios robust to other processes sharing
    the CPU: every variant gets the same chances at a quiet moment.
    """
    best = dict.fromkeys(runs, math.inf)
    with torch.inference_mode():
        for run in runs.values():
            run()  # warm-up: oneDNN primitive creation, allocator
        start = time.perf_counter()
        rounds = 0
        while rounds < 3 or time.perf_counter() - start < seconds:
            for key, run in runs.items():
                tick = time.perf_counter()
                run()
                best[key] = min(best[key], time.perf_counter() - tick)
            rounds += 1
    return best


def row(label: str, length: int, flops: float, rates: dict[str, float], peak: float, baseline: float) -> str:
    fastest = max(rates.values())
    cells = [f"{rates[key]:,.0f}" if key in rates else "-" for key in ("unfused", "fused", "optimized")]
    return (f"| {label} | {length} | {flops / 1e6:.1f} | {' | '.join(cells)} | {fastest * flops / 1e9:.1f} "
            f"| {100 * fastest * flops / 1e9 / peak:.0f}% | {fastest / baseline:.2f}x |")


def bench_length(length: int, seconds: float, *, compile_models: bool) -> list[str]:
    """Table rows for one input length; every variant (and the peak matmul) timed in the same rounds."""
    x = torch.randn(BATCH, length).contiguous()
    a, b = torch.randn(PEAK_SIZE, PEAK_SIZE), torch.randn(PEAK_SIZE, PEAK_SIZE)
    # MKL's sgemm takes its AVX2 path on AMD CPUs; oneDNN's convolution uses AVX-512 there: time both.
    peak_input, peak_weight = torch.randn(64, 128, 256), torch.randn(256, 128, 5)
    conv_flops = 2 * 64 * 128 * 256 * 5 * 256
    reference = QusiHadryssReference(length).eval()
    reference_chunked = models.InferenceModel(reference)
    runs: dict[str, Callable[[], object]] = {
        "peak matmul": lambda: a @ b,
        "peak conv": lambda: torch.nn.functional.conv1d(peak_input, peak_weight, padding=2),
        "reference unfused": lambda: reference(x),
        "reference optimized": lambda: reference_chunked(x),
    }
    flops = {"reference": models.count_flops(reference, length)}
    names = models.available()
    for name in names:
        model = models.create(name, input_length=length).eval()
        flops[name] = models.count_flops(model, length)
        variants = {"unfused": model, "fused": models.fuse_for_inference(model),
                    "optimized": models.optimize_for_inference(model)}
        if compile_models:
            variants["compiled"] = models.optimize_for_inference(model, compile=True, example_input=x[:64])
        for variant, network in variants.items():
            runs[f"{name} {variant}"] = lambda network=network: network(x)  # type: ignore[misc]
    times = best_times(runs, seconds)
    peak = max(2 * PEAK_SIZE**3 / times.pop("peak matmul"), conv_flops / times.pop("peak conv")) / 1e9
    rates = {key: BATCH / value for key, value in times.items()}
    baseline = rates["reference unfused"]
    lines = [row("qusi Hadryss (reference)", length, flops["reference"], {"unfused": baseline}, peak, baseline),
             row("qusi Hadryss, chunked", length, flops["reference"],
                 {"optimized": rates["reference optimized"]}, peak, baseline)]
    for name in names:
        measured = {variant: rates[f"{name} {variant}"] for variant in ("unfused", "fused", "optimized")}
        lines.append(row(name, length, flops[name], measured, peak, baseline))
        if compile_models:
            lines.append(row(f"{name} + torch.compile", length, flops[name],
                             {"optimized": rates[f"{name} compiled"]}, peak, baseline))
    lines.append(f"|  | {length} | peak estimate {peak:.0f} GFLOP/s |  |  |  |  |  |  |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="length 4096 only, short timings")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--seconds", type=float, default=None, help="timing budget per length")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the fused models")
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    torch.manual_seed(0)
    lengths = [4096] if arguments.quick else [3500, 4096, 10000]
    seconds = arguments.seconds or (10.0 if arguments.quick else 30.0)
    print(f"Batch {BATCH}, float32, eval mode, `torch.inference_mode`, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads. unfused: `model.eval()`; fused: `fuse_for_inference` (batch "
          "norm folded, dropout removed); optimized: `optimize_for_inference` (fused + cache-sized chunks). "
          "GFLOP/s and % of peak are for the fastest variant, peak being the faster of a 2048 x 2048 float32 "
          "matmul and a 128 -> 256 channel Conv1d timed in the same rounds; the last column compares the fastest variant with qusi's Hadryss (one pass) "
          "at the same length. Best of interleaved rounds.\n")
    print("| model | length | MFLOP/curve | unfused curves/s | fused curves/s | optimized curves/s | GFLOP/s "
          "| % of peak | vs qusi Hadryss |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for length in lengths:
        print("\n".join(bench_length(length, seconds, compile_models=arguments.compile)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
