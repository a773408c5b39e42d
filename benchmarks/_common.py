"""What the benchmark scripts share: real-size SPOC files, an untrained bundle, CPU and memory meters.

Every script here imports it as ``from _common import ...`` (Python puts the script's folder on the
path, so this works from any working directory). The data are synthetic but real-size: a TESS SPOC
two-minute sector, as ``qusi_lab.io.write_spoc_fits`` writes it, read by the same code as real files.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
#: Two-minute cadences of a real-size sector file (27.8 days).
CADENCES = 20_000
#: Where ``run_benchmarks.py`` writes its collected tables (ignored by git).
RESULTS_DIR = Path(__file__).resolve().parent / "results"

if str(ROOT) not in sys.path:  # run from a checkout without an installed package
    sys.path.insert(0, str(ROOT))


def spoc_name(index: int) -> str:
    """The SPOC file name of star ``index`` (TIC ``index + 1``) in sector 1."""
    return f"tess2018206045859-s0001-{index + 1:016d}-0120-s_lc.fits"


def write_spoc_files(directory: Path, count: int, *, cadences: int = CADENCES, transits: bool = False,
                     labels: Sequence[str] | None = None, reuse: bool = False) -> list[Path]:
    """Write ``count`` real-size TESS SPOC light-curve files; return their paths.

    Each file has ``cadences`` two-minute cadences with the mid-sector data-download gap (NaN times),
    momentum dumps every 250 cadences (quality 32, in the default mask) and collateral cosmic rays every
    400 (quality 1024, not in it), a flux of 1000 + index with white noise of 2, and TIC id ``index + 1``.

    ``transits``: a 3-unit box transit on every other star (so the files are not all alike).
    ``labels``: star ``i`` goes into the subfolder ``labels[i % len(labels)]`` (a class-folder dataset).
    ``reuse``: keep the files of an earlier call with the same ``directory`` and ``count``.
    """
    marker = directory / f"complete-{count}"
    folders = [directory / labels[index % len(labels)] if labels else directory for index in range(count)]
    paths = [folder / spoc_name(index) for index, folder in enumerate(folders)]
    if reuse and marker.exists():
        return paths
    from qusi_lab.io import write_spoc_fits
    from qusi_lab.lightcurve import LightCurve

    for folder in set(folders):
        folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    time_values = 1325.3 + np.arange(cadences) * 2.0 / 1440.0
    time_values[cadences // 2: cadences // 2 + 500] = np.nan  # the data-download gap between the orbits
    quality = np.zeros(cadences, dtype=np.int32)
    quality[::250] = 32  # momentum dumps (in the default mask)
    quality[7::400] = 1024  # collateral cosmic rays (not in the default mask)
    noise = rng.normal(0.0, 1.0, cadences)
    for index, path in enumerate(paths):
        flux = 1000.0 + index + 2.0 * np.roll(noise, index * 7)
        if transits and index % 2 == 0:
            phase = (time_values - 1326.0 - (index % 13) * 0.1) % 3.7
            flux = flux - 3.0 * (phase < 0.12)
        write_spoc_fits(LightCurve(time_values, flux, validate=False), path, flux_err=np.full(cadences, 2.0),
                        quality=quality, tic_id=index + 1, sector=1, tess_mag=10.0)
    marker.touch()
    return paths


def make_bundle(directory: Path, input_length: int | None = None, name: str = "model") -> Path:
    """Save an untrained Hadryss bundle with the default preprocessing (speed does not depend on the weights)."""
    import torch

    from qusi_lab.models import Hadryss
    from qusi_lab.training import save_bundle
    from qusi_lab.transforms import DEFAULT_INPUT_LENGTH, default_preprocessing

    length = input_length or DEFAULT_INPUT_LENGTH
    torch.manual_seed(0)
    return save_bundle(Hadryss(input_length=length), directory / name, task="binary",
                       label_names=["negative", "positive"], preprocessing=default_preprocessing(length))


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min, {os.cpu_count()} CPUs)"


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished children (workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM). Not ``ru_maxrss``: Linux carries that over an exec from
    the parent, so a child of a big process would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def milliseconds(samples: Sequence[float]) -> tuple[str, str, str]:
    """Median, 95th percentile and maximum of ``samples`` (seconds), formatted in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"{statistics.median(ordered) * 1000:.1f}", f"{p95 * 1000:.1f}", f"{ordered[-1] * 1000:.1f}"


def timed(function: Callable[[], object], repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``function`` (after one untimed call: imports, caches)."""
    function()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples
