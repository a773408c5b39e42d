"""benchmarks/bench_stages.py --floor copies the bytes the reader must copy, and its runs score every file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_stages
        from _common import write_spoc_files
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return bench_stages, write_spoc_files


def test_the_floor_copies_the_light_curve_table_the_reader_reads(bench, tmp_path: Path) -> None:
    bench_stages, write_spoc_files = bench
    from qusi_lab.io._fitsfile import OpenedFits, iter_hdus, table_layout

    path = write_spoc_files(tmp_path, 1, cadences=300)[0]
    offset, size = bench_stages._table_span(path)
    with OpenedFits(path) as opened:
        table = list(iter_hdus(opened.stream, path, opened.size))[1]
        layout = table_layout(table, path)
    assert table.header.get("EXTNAME") == "LIGHTCURVE"
    assert (offset, size) == (table.data_offset, layout.rows * layout.row_bytes)
    # The copied bytes hold the times the reader gives (big-endian TIME at its column offset).
    buffer = bytearray(size)
    bench_stages._copy_table(path, offset, buffer)
    rows = np.frombuffer(buffer, dtype=np.dtype({"names": ["TIME"], "formats": [">f8"],
                                                 "offsets": [layout.columns["TIME"].offset],
                                                 "itemsize": layout.row_bytes}))
    from qusi_lab.io.fits import read_fits_light_curve

    times = rows["TIME"].astype(np.float64)
    assert np.array_equal(times[np.isfinite(times)][:50], read_fits_light_curve(path, quality_bitmask="none").time[:50])


class _CountingNetwork(torch.nn.Module):
    """Counts the inputs it scores (the floor must score one input per file, of the model's length)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        assert inputs.shape[1:] == (4096,)
        self.seen += len(inputs)
        return inputs.sum(dim=1, keepdim=True)


def test_the_floor_with_the_loader_scores_one_input_per_file(bench, tmp_path: Path) -> None:
    bench_stages, write_spoc_files = bench
    paths = write_spoc_files(tmp_path, 5, cadences=300)
    network = _CountingNetwork()
    milliseconds = bench_stages.floor_with_loader(network, paths, workers=2)
    assert network.seen == 5
    assert np.isfinite(milliseconds) and milliseconds > 0


def test_the_split_floor_runs_both_halves_and_the_work_meter_reports(bench, tmp_path: Path) -> None:
    bench_stages, write_spoc_files = bench
    paths = write_spoc_files(tmp_path, 3, cadences=300)
    assert bench_stages.floor_split(_CountingNetwork(), paths) > 0  # raises when a process fails
    alone, together = bench_stages.parallel_work(count=50)
    assert alone > 0 and together > 0
