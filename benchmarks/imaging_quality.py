"""What the imaging path finds: the network against annular ADI-PCA on held-out synthetic cubes (issue 16).

Command (from the repository root)::

    .venv/bin/python benchmarks/imaging_quality.py                      # ~15 minutes on 2 cores
    .venv/bin/python benchmarks/imaging_quality.py --quick              # a smoke run, ~3 minutes

Steps, all on cubes of ``qusi_lab.imaging.synthetic.make_adi_sequence`` (L band, 61 frames of 101 x 101):

1. Training cubes (seeds 1000, 1001, ...) and a validation cube (2000): per cube the fluxes where annular
   ADI-PCA reaches S/N 1-3 (``calibrate_flux``, every half lambda/D from 1 to 4.5), then MLAR samples
   (``make_samples``) in the rings around 1, 2, 3, 4 lambda/D (companions anywhere in each ring's band).
2. ``ql.train`` of ``mlar_conv3d`` (SODINN's default) on them, within ``--max-time`` seconds.
3. A held-out cube (seed 3000): ``--sets`` injection sets, each one companion in each quarter of 1-4
   lambda/D (1-1.75, 1.75-2.5, 2.5-3.25, 3.25-4; anywhere in it) at random angles, with fluxes where
   annular ADI-PCA reaches S/N 1-3 at that very separation (the set is calibrated on the cube at its own
   separations). For each set the network's probability map and the annular ADI-PCA S/N map (Mawet 2014),
   both over 1-4.5 lambda/D (the network scores nothing closer than the closest companion it was
   shown, 1 lambda/D; ADI-PCA's false positives there are not counted either). ``--at-ring-centres`` puts the companions on 1, 2, 3, 4 lambda/D exactly
   (the protocol of the first measurements).
4. Detection curves (TPR against mean false positives per frame) for both; the bar is the network's
   TPR at <= 1 false positive per frame against ADI-PCA's (>= 2x). Also: detections on a cube without
   injections (seed 3001) at the operating threshold, a label-shuffled training run, and save -> load ->
   map equality.

Foreign generator: the same network and annular ADI-PCA on held-out cubes of a second, independent generator
(``qusi_lab.imaging.empirical.make_empirical_sequence``: GPI-H-like, focal-plane speckles, seeds 3000 and 3001),
evaluated exactly as step 3-4 (injection sets calibrated on that cube, the same curves, the same operating
threshold, chosen on the validation cube). ``--train-generators adi,empirical`` trains on a mix of both
generators' cubes (alternating, the same number of cubes; the validation samples from both), to measure whether
mixing closes a gap::

    .venv/bin/python benchmarks/imaging_quality.py --train-generators adi,empirical

``--held-out 3000,3001,...`` pools several held-out cubes (of each generator; a cube whose calibration fails is
left out, said so) and adds a table per cube: one cube of 25 sets is itself a noisy measurement. ``--pca-ceiling
SEEDS`` runs ADI-PCA alone on those cubes and prints the largest network / ADI-PCA ratio any detector could reach
there (1 / ADI-PCA's TPR).

Prints markdown tables; writes the curves' figure and CSV into ``benchmarks/results/`` (ignored by git).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import qusi_lab as ql  # noqa: E402
from qusi_lab import models  # noqa: E402
from qusi_lab.errors import ImagingError  # noqa: E402
from qusi_lab.imaging import (  # noqa: E402
    MlarAugmentation,
    MlarDataset,
    MlarSamples,
    detection_curve,
    make_samples,
    pca_adi,
    plot_detection_curves,
    probability_map,
    snr_map,
    tpr_at,
)
from qusi_lab.imaging.empirical import make_empirical_sequence  # noqa: E402
from qusi_lab.imaging.injection import calibrate_flux, inject_companions, sample_fluxes  # noqa: E402
from qusi_lab.imaging.synthetic import make_adi_sequence  # noqa: E402
from qusi_lab.training.metrics import auc_roc  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PCA_COMPONENTS = 5  # the calibration's and the baseline's number of components


GENERATORS = ("adi", "empirical")
BINS = np.array([1.0, 1.75, 2.5, 3.25, 4.0])  # lambda/D: one held-out companion per bin and set
INNER = 1.0  # lambda/D: the evaluated region's inner edge (make_samples' min_separation)
NETWORK_THRESHOLDS = np.concatenate([np.linspace(0.05, 0.95, 46), 1.0 - np.logspace(-1.4, -6.0, 24)])
PCA_THRESHOLDS = np.linspace(0.0, 8.0, 81)  # S/N


def cube(seed: int, arguments: argparse.Namespace, generator: str = "adi") -> ql.imaging.AdiSequence:
    if generator == "empirical":
        return make_empirical_sequence(seed=seed, n_frames=arguments.frames, size=arguments.size)
    return make_adi_sequence(seed=seed, n_frames=arguments.frames, size=arguments.size)


def separations_of(sequence: ql.imaging.AdiSequence) -> list[float]:
    """1-4 lambda/D (the FWHM is about lambda/D): the annuli of the samples and of the maps."""
    return [k * float(sequence.fwhm) for k in (1, 2, 3, 4)]


def calibrated_at(sequence: ql.imaging.AdiSequence) -> list[float]:
    """1-4.5 lambda/D every half: the flux calibration covers each ring's whole band (+-0.5 FWHM)."""
    return [k * float(sequence.fwhm) for k in np.arange(1.0, 4.51, 0.5)]


def samples_from(seed: int, arguments: argparse.Namespace, per_annulus: int,
                 generator: str = "adi") -> MlarSamples:
    for attempt in range(4):
        sequence = cube(seed, arguments, generator)
        radii = separations_of(sequence)
        try:
            calibration = calibrate_flux(sequence, calibrated_at(sequence), (1.0, 3.0), n_components=PCA_COMPONENTS)
            break
        except ImagingError as error:  # e.g. too little rotation: at 1 lambda/D PCA-ADI S/N stops growing
            if attempt == 3:
                raise
            print(f"{generator} cube {seed}: {error}; using seed {seed + 100} instead", flush=True)
            seed += 100

    return make_samples(sequence, calibration, separations=radii, n_per_annulus=per_annulus, seed=seed,
                        spread=arguments.spread, ladder=arguments.ladder)


def region_mask(sequence: ql.imaging.AdiSequence) -> np.ndarray:
    center = sequence.center
    radius = np.hypot(*(np.indices(sequence.shape) - np.asarray(center)[:, None, None]))
    fwhm = float(sequence.fwhm)
    return (radius >= INNER * fwhm) & (radius <= 4.5 * fwhm)


def maps_for(model: ql.Model | None, sequence: ql.imaging.AdiSequence, mask: np.ndarray
             ) -> tuple[np.ndarray | None, np.ndarray]:
    """The network's probability map (None without a model) and annular ADI-PCA's S/N map, NaN outside the
    evaluated region."""
    probability = (None if model is None
                   else probability_map(model, sequence, separations=separations_of(sequence)).probability)
    final = pca_adi(sequence, PCA_COMPONENTS, mode="annular")
    snr = snr_map(final, float(sequence.fwhm), center=sequence.center,
                  mask_center=INNER * float(sequence.fwhm))  # the evaluated region's inner edge, for both
    return (None if probability is None else np.where(mask, probability, np.nan)), np.where(mask, snr, np.nan)


def injection_sets(seed: int, count: int, arguments: argparse.Namespace, generator: str = "adi",
                   model: ql.Model | None = None) -> tuple[list[np.ndarray], list[np.ndarray], list, float]:
    """The network's and ADI-PCA's maps of ``count`` injection sets in cube ``seed`` (calibrated on itself),
    the true positions and the FWHM. Without ``model``, the network's maps are empty."""
    sequence = cube(seed, arguments, generator)
    fwhm = float(sequence.fwhm)
    mask = region_mask(sequence)
    rng = np.random.default_rng(seed)
    network_maps, pca_maps, truths = [], [], []
    for _ in range(count):
        # one companion in each quarter of 1-4 lambda/D, anywhere in it (a planet is not on a ring centre),
        # its flux calibrated at its own separation: between calibrated rows the S/N-flux relation is
        # only interpolated, and near the star it changes tenfold in half a FWHM
        radii = (separations_of(sequence) if arguments.at_ring_centres
                 else list(fwhm * rng.uniform(BINS[:-1], BINS[1:])))
        own = calibrate_flux(sequence, radii, (1.0, 3.0), n_components=PCA_COMPONENTS)
        angles = rng.uniform(0, 360) + 90.0 * np.arange(len(radii)) + rng.uniform(-20, 20, len(radii))
        fluxes = [float(sample_fluxes(own, r, rng, 1)[0]) for r in radii]
        injected = inject_companions(sequence, radii, list(angles), fluxes)
        probability, snr = maps_for(model, injected, mask)
        if probability is not None:
            network_maps.append(probability)
        pca_maps.append(snr)
        theta = np.deg2rad(angles)
        truths.append([(sequence.center[0] + r * np.sin(t), sequence.center[1] + r * np.cos(t))
                       for r, t in zip(radii, theta, strict=True)])
    return network_maps, pca_maps, truths, fwhm


def calibrated_cubes(seeds: list[int], arguments: argparse.Namespace, generator: str,
                     model: ql.Model | None = None) -> Iterator[tuple[int, tuple | ImagingError]]:
    """``(seed, injection_sets(...) of that cube)`` for each seed, or ``(seed, the ImagingError)`` when the
    cube cannot be calibrated (e.g. too little rotation: near the star S/N stops growing with flux)."""
    for seed in seeds:
        try:
            yield seed, injection_sets(seed, arguments.sets, arguments, generator, model=model)
        except ImagingError as error:
            yield seed, error


def pooled_sets(seeds: list[int], arguments: argparse.Namespace, generator: str, model: ql.Model
                ) -> tuple[list[np.ndarray], list[np.ndarray], list, float, list[tuple[int, float, float]]]:
    """:func:`injection_sets` of every held-out cube in ``seeds``, pooled, and per cube ``(seed, network TPR,
    ADI-PCA TPR)`` at <= 1 FP/frame (a cube whose calibration fails is reported and left out)."""
    network_maps: list[np.ndarray] = []
    pca_maps: list[np.ndarray] = []
    truths: list = []
    per_cube: list[tuple[int, float, float]] = []
    fwhm = float("nan")
    for seed, sets in calibrated_cubes(seeds, arguments, generator, model):
        if isinstance(sets, ImagingError):
            print(f"{generator} held-out cube {seed} left out: {sets}", flush=True)
            continue
        net, pca, truth, fwhm = sets
        network_maps += net
        pca_maps += pca
        truths += truth
        per_cube.append((seed, tpr_at(detection_curve(net, truth, list(NETWORK_THRESHOLDS), fwhm), 1.0),
                         tpr_at(detection_curve(pca, truth, list(PCA_THRESHOLDS), fwhm), 1.0)))
    if not truths:
        raise ImagingError(f"no {generator} held-out cube could be calibrated (seeds {seeds})")
    return network_maps, pca_maps, truths, fwhm, per_cube


def print_per_cube(title: str, per_cube: list[tuple[int, float, float]]) -> None:
    if len(per_cube) < 2:
        return
    print(f"\n{title}, per held-out cube (TPR at <= 1 FP/frame):\n")
    print("| cube | network | ADI-PCA | ratio |")
    print("|---|---:|---:|---:|")
    for seed, net, pca in per_cube:
        print(f"| {seed} | {net:.2f} | {pca:.2f} | {net / pca if pca else float('inf'):.2f}x |")


def pca_ceiling(arguments: argparse.Namespace) -> None:
    """ADI-PCA alone on several held-out cubes: its TPR at <= 1 FP/frame bounds the ratio any detector can
    reach (a TPR is at most 1, so the ratio is at most 1 / ADI-PCA's TPR)."""
    seeds = [int(s) for s in arguments.pca_ceiling.split(",")]
    pca_thresholds = list(PCA_THRESHOLDS)
    for generator in arguments.ceiling_generators.split(","):
        print(f"\n{generator} cubes ({arguments.sets} injection sets each, injections at ADI-PCA S/N 1-3):\n")
        print("| held-out cube | ADI-PCA TPR at <= 1 FP/frame | its S/N threshold | "
              + " | ".join(f"TPR at {a:g}-{b:g} lambda/D" for a, b in zip(BINS[:-1], BINS[1:], strict=True))
              + " | largest ratio any detector can reach |")
        print("|---|---:|---:|" + "---:|" * (len(BINS) - 1) + "---:|")
        pooled_maps: list[np.ndarray] = []
        pooled_truths: list = []
        used = 0
        for seed, sets in calibrated_cubes(seeds, arguments, generator):
            if isinstance(sets, ImagingError):
                print(f"| {seed} | not calibrated: {sets} |", flush=True)
                continue
            _, maps, truths, fwhm = sets
            pooled_maps += maps
            pooled_truths += truths
            used += 1
            print(ceiling_row(str(seed), maps, truths, fwhm, pca_thresholds), flush=True)
        if used:
            print(ceiling_row(f"the {used} calibrated cubes pooled", pooled_maps, pooled_truths, fwhm, pca_thresholds))


def threshold_at(curve: pd.DataFrame, fallback: float) -> float:
    """The threshold of :func:`tpr_at`'s point: the highest TPR with <= 1 false positive per frame (``fallback``
    when no threshold allows so few)."""
    allowed = curve[curve["mean_fps"] <= 1.0]
    return float(allowed.loc[allowed["tpr"].idxmax(), "threshold"]) if len(allowed) else fallback


def ceiling_row(label: str, maps: list[np.ndarray], truths: list, fwhm: float, thresholds: list[float]) -> str:
    curve = detection_curve(maps, truths, thresholds, fwhm)
    threshold = threshold_at(curve, thresholds[-1])
    tpr = tpr_at(curve, 1.0)
    bins = [detection_curve(maps, [[truth[i]] for truth in truths], [threshold], fwhm)["tpr"].iloc[0]
            for i in range(len(BINS) - 1)]
    return (f"| {label} | {tpr:.2f} | {threshold:.1f} | " + " | ".join(f"{b:.2f}" for b in bins)
            + f" | {1.0 / tpr if tpr else float('inf'):.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-cubes", type=int, default=5)
    parser.add_argument("--per-annulus", type=int, default=120, help="positives per annulus per cube")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--max-time", type=float, default=420.0, help="training budget in seconds")
    parser.add_argument("--sets", type=int, default=25, help="injection sets in the held-out cube")
    parser.add_argument("--frames", type=int, default=61)
    parser.add_argument("--size", type=int, default=101)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--shift", type=float, default=None,
                        help="largest sub-pixel shift of the augmentation (default: MlarAugmentation's)")
    parser.add_argument("--spread", type=float, default=1.0,
                        help="radial band (FWHM) of the training injections around each ring (make_samples)")
    parser.add_argument("--ladder", default="variance", choices=("variance", "distinct"),
                        help="MLAR component counts (make_samples' ladder)")
    parser.add_argument("--at-ring-centres", action="store_true",
                        help="held-out injections at exactly 1, 2, 3, 4 lambda/D (the protocol before 0.x: flatters "
                             "a network trained on positives at the ring centres)")
    parser.add_argument("--seed", type=int, default=0,
                        help="the training seed (weights, batches, augmentation); the cubes stay the same")
    parser.add_argument("--held-out", metavar="SEEDS", default="3000",
                        help="comma-separated seeds of the held-out cubes (each generator), pooled; per cube too "
                             "when more than one (default: %(default)s)")
    parser.add_argument("--pca-ceiling", metavar="SEEDS", default=None,
                        help="only ADI-PCA, on the held-out cubes of these comma-separated seeds of each generator: "
                             "its TPR at <= 1 FP/frame and the largest network / ADI-PCA ratio it leaves possible")
    parser.add_argument("--ceiling-generators", default=",".join(GENERATORS),
                        help="with --pca-ceiling: the generators whose cubes are measured (default: all)")
    parser.add_argument("--train-generators", default="adi",
                        help="comma-separated generators of the training and validation cubes: adi, empirical")
    arguments = parser.parse_args()
    generators = [g.strip() for g in arguments.train_generators.split(",") if g.strip()]
    if not generators or any(g not in GENERATORS for g in generators):
        parser.error(f"--train-generators: a comma-separated list of {', '.join(GENERATORS)}")
    if arguments.quick:
        arguments.train_cubes, arguments.per_annulus, arguments.steps = 1, 30, 300
        arguments.max_time, arguments.sets = 60.0, 5
    if arguments.pca_ceiling:
        pca_ceiling(arguments)
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    clock = time.perf_counter()
    # cube k comes from generators[k % len(generators)]: a mix keeps the number of training cubes
    train_set = MlarSamples.concatenate([samples_from(1000 + k, arguments, arguments.per_annulus,
                                                      generators[k % len(generators)])
                                         for k in range(arguments.train_cubes)])
    validation = MlarSamples.concatenate([samples_from(2000, arguments, max(10, arguments.per_annulus // 3), g)
                                          for g in generators])
    sample_seconds = time.perf_counter() - clock
    levels, size = train_set.n_levels, train_set.patch_size

    def fit(samples: MlarSamples, checks: MlarSamples, steps: int, budget: float | None) -> ql.TrainingResult:
        network = models.create("mlar_conv3d", levels=levels, patch_size=size)
        augmentation = MlarAugmentation() if arguments.shift is None else MlarAugmentation(shift=arguments.shift)
        return ql.train(network, MlarDataset(samples, augment=augmentation), MlarDataset(checks, augment=False),
                        max_steps=steps,
                        max_time=budget, batch_size=64, validation_every=max(50, steps // 20), balance="equal",
                        progress=False, seed=arguments.seed)

    clock = time.perf_counter()
    result = fit(train_set, validation, arguments.steps, arguments.max_time)
    train_seconds = time.perf_counter() - clock
    model = result.model

    thresholds = NETWORK_THRESHOLDS

    # The operating threshold is chosen before the held-out cube is seen: on injection sets in the
    # validation cube, the lowest threshold above which no threshold gives a false positive (a low threshold
    # can merge everything into one segment that happens to hold an injection: not a clean threshold).
    chosen_maps, _, chosen_truths, chosen_fwhm = injection_sets(2000, max(4, arguments.sets // 2), arguments,
                                                                       model=model)
    choosing = detection_curve(chosen_maps, chosen_truths, list(thresholds), chosen_fwhm)
    operating = float(thresholds[-1])
    for threshold, false_positives in zip(choosing["threshold"][::-1], choosing["false_positives"][::-1],
                                          strict=True):
        if false_positives > 0:
            break
        operating = float(threshold)

    held_out_seeds = [int(seed) for seed in arguments.held_out.split(",")]
    held_out = cube(held_out_seeds[0], arguments)
    radii = separations_of(held_out)
    clock = time.perf_counter()
    network_maps, pca_maps, truths, fwhm, per_cube = pooled_sets(held_out_seeds, arguments, "adi", model)
    map_seconds = (time.perf_counter() - clock) / max(len(truths), 1)
    network_curve = detection_curve(network_maps, truths, list(thresholds), fwhm,
                                    method="network (mlar_conv3d)")
    pca_curve = detection_curve(pca_maps, truths, list(PCA_THRESHOLDS), fwhm,
                                method=f"annular ADI-PCA ({PCA_COMPONENTS} PCs), S/N")
    network_tpr, pca_tpr = tpr_at(network_curve, 1.0), tpr_at(pca_curve, 1.0)
    at_operating = detection_curve(network_maps, truths, [operating], fwhm).iloc[0]

    # no injections: detections above the operating threshold
    empty = cube(3001, arguments)
    empty_probability, _ = maps_for(model, empty, region_mask(empty))
    assert empty_probability is not None
    empty_peaks = ql.imaging.find_sources(empty_probability, operating, float(empty.fwhm))
    empty_detections = len(empty_peaks)

    # foreign generator: the same evaluation on make_empirical_sequence cubes, the same operating threshold
    foreign_cube = cube(held_out_seeds[0], arguments, "empirical")
    foreign_radii = separations_of(foreign_cube)
    clock = time.perf_counter()
    foreign_network_maps, foreign_pca_maps, foreign_truths, foreign_fwhm, foreign_per_cube = pooled_sets(
        held_out_seeds, arguments, "empirical", model)
    foreign_seconds = time.perf_counter() - clock
    foreign_network_curve = detection_curve(foreign_network_maps, foreign_truths, list(thresholds), foreign_fwhm,
                                            method="network (mlar_conv3d), foreign cube")
    foreign_pca_curve = detection_curve(foreign_pca_maps, foreign_truths, list(PCA_THRESHOLDS),
                                        foreign_fwhm, method=f"annular ADI-PCA ({PCA_COMPONENTS} PCs), foreign cube")
    foreign_network_tpr, foreign_pca_tpr = tpr_at(foreign_network_curve, 1.0), tpr_at(foreign_pca_curve, 1.0)
    foreign_at_operating = detection_curve(foreign_network_maps, foreign_truths, [operating], foreign_fwhm).iloc[0]
    foreign_empty = cube(3001, arguments, "empirical")
    foreign_empty_probability, _ = maps_for(model, foreign_empty, region_mask(foreign_empty))
    assert foreign_empty_probability is not None
    foreign_empty_peaks = ql.imaging.find_sources(foreign_empty_probability, operating, float(foreign_empty.fwhm))
    # label-shuffled training falls to chance
    shuffled = MlarSamples(train_set.x, np.random.default_rng(1).permutation(train_set.y), train_set.separation,
                           train_set.position, train_set.flux, {})
    # Its best step is chosen on shuffled validation labels too: chosen on the true ones, the pick among the
    # snapshots' chance correlations (an untrained network scores 0.42-0.45) is itself a fit to the truth
    # (it gave 0.66-0.71 on the true labels).
    blind = MlarSamples(validation.x, np.random.default_rng(2).permutation(validation.y), validation.separation,
                        validation.position, validation.flux, {})
    # a fixed number of steps and no clock: the same run on any machine
    shuffled_result = fit(shuffled, blind, max(200, arguments.steps // 5), None)
    shuffled_auc = ql.evaluate(shuffled_result.model, MlarDataset(validation, augment=False)).metrics["auc_roc"]
    untrained = models.create("mlar_conv3d", levels=levels, patch_size=size).eval()
    with torch.no_grad():
        raw = untrained(torch.from_numpy(validation.x)).numpy()[:, 0]
    untrained_auc = float(auc_roc(raw, validation.y))
    true_auc = ql.evaluate(model, MlarDataset(validation, augment=False)).metrics["auc_roc"]
    # AUC only ranks: a network that learnt nothing gives nearly one probability to every patch, and the
    # ranking of those tiny differences follows the patch's brightness (an untrained network's AUC is far
    # from 0.5 too). What it would detect is told by its probabilities: their spread, the Brier score
    # against the true labels (0.25 for a constant one half) and what crosses the operating threshold.
    shuffled_scores = np.asarray(shuffled_result.model.score(validation.x), dtype=np.float64).reshape(-1)
    true_scores = np.asarray(model.score(validation.x), dtype=np.float64).reshape(-1)
    shuffled_brier = float(np.mean((shuffled_scores - validation.y) ** 2))
    true_brier = float(np.mean((true_scores - validation.y) ** 2))
    # save -> load -> predict
    with tempfile.TemporaryDirectory() as folder:
        loaded = ql.load(model.save(Path(folder) / "mlar"))
        again = probability_map(loaded, held_out, separations=radii).probability
        first = probability_map(model, held_out, separations=radii).probability
        identical = bool(np.array_equal(again, first, equal_nan=True))

    curves = pd.concat([network_curve, pca_curve, foreign_network_curve, foreign_pca_curve])
    stamp = time.strftime("%Y-%m-%d_%H%M")
    model.save(RESULTS / f"imaging_model_{stamp}")
    np.savez_compressed(RESULTS / f"imaging_maps_{stamp}.npz", network=np.asarray(network_maps),
                        pca=np.asarray(pca_maps), truths=np.asarray(truths), empty=empty_probability)
    curves.to_csv(RESULTS / f"imaging_quality_{stamp}.csv", index=False)
    ax = plot_detection_curves([network_curve, pca_curve])
    ax.set_title("held-out cube, injections at ADI-PCA S/N 1-3, 1-4 lambda/D")
    ax.figure.savefig(RESULTS / f"imaging_quality_{stamp}.png", dpi=110, bbox_inches="tight")
    ax = plot_detection_curves([foreign_network_curve, foreign_pca_curve])
    ax.set_title("foreign generator (make_empirical_sequence), injections at ADI-PCA S/N 1-3")
    ax.figure.savefig(RESULTS / f"imaging_quality_foreign_{stamp}.png", dpi=110, bbox_inches="tight")

    print(f"training generators: {', '.join(generators)}; training seed {arguments.seed}")
    print(f"{arguments.train_cubes} training cubes ({len(train_set)} samples, {levels} levels, {size}-px patches, "
          f"{sample_seconds:.0f} s to make), {len(validation.y)} validation samples; "
          f"{result.model.training_config.get('steps', '?')} steps in {train_seconds:.0f} s; held-out cubes {arguments.held_out} (pooled): {arguments.sets} sets each "
          f"of {len(radii)} companions ({map_seconds:.1f} s per set: both maps); total "
          f"{time.perf_counter() - started:.0f} s\n")
    print("| bar | measured | needed |")
    print("|---|---:|---:|")
    ratio = network_tpr / pca_tpr if pca_tpr > 0 else float("inf")
    print(f"| TPR at <= 1 false positive per frame: network / ADI-PCA | {network_tpr:.2f} / {pca_tpr:.2f} "
          f"= {ratio:.1f}x | >= 2x |")
    print(f"| network at its operating threshold {operating:.4f} (no false positive in the validation cube's "
          f"sets): TPR, false positives per frame | {at_operating.tpr:.2f}, {at_operating.mean_fps:.2f} "
          f"({at_operating.tpr / pca_tpr if pca_tpr else float('inf'):.1f}x ADI-PCA at 1 FP/frame) | - |")
    print(f"| detections in a cube without injections (threshold {operating:.4f}; its highest probability "
          f"{np.nanmax(empty_probability):.4f}) | {empty_detections} | 0 |")
    print(f"| label-shuffled training: AUC on the true validation labels (an untrained network: "
          f"{untrained_auc:.2f}) | {shuffled_auc:.2f} | - |")
    print(f"| label-shuffled training: its probabilities on the validation patches (5th-95th percentile); Brier "
          f"score on the true labels (a constant 0.5: 0.25; the trained network: {true_brier:.3f}); patches over "
          f"the operating threshold | {np.percentile(shuffled_scores, 5):.3f}-{np.percentile(shuffled_scores, 95):.3f}; "
          f"{shuffled_brier:.3f}; {int((shuffled_scores > operating).sum())} of {len(shuffled_scores)} | chance |")
    print(f"| save -> load -> map identical | {identical} | True |")
    print(f"| validation AUC (true labels, cube 2000 of each training generator) | {true_auc:.3f} | - |")
    print(f"| training seconds | {train_seconds:.0f} | < 600 |")
    center = held_out.center
    print("\nDetections in the cube without injections:",
          [(round(float(np.hypot(y - center[0], x - center[1])) / fwhm, 2), round(value, 4))
           for y, x, value, _ in empty_peaks], "(separation in lambda/D, probability)")
    def by_separation(net_curve: pd.DataFrame, snr_curve: pd.DataFrame, net_maps: list, snr_maps: list,
                      truth_sets: list, width: float) -> None:
        print("\nTPR by separation, each method at its own threshold of <= 1 FP/frame (the network also at its "
              "operating threshold):\n")
        print("| separation (lambda/D) | network TPR | network TPR at the operating threshold | ADI-PCA TPR |")
        print("|---|---:|---:|---:|")

        net_threshold, pca_threshold = threshold_at(net_curve, 1.0), threshold_at(snr_curve, 8.0)
        labels = (["1", "2", "3", "4"] if arguments.at_ring_centres
                  else [f"{a:g}-{b:g}" for a, b in zip(BINS[:-1], BINS[1:], strict=True)])
        for index, label in enumerate(labels):
            only = [[truth[index]] for truth in truth_sets]
            net = detection_curve(net_maps, only, [net_threshold], width)["tpr"].iloc[0]
            at_operating = detection_curve(net_maps, only, [operating], width)["tpr"].iloc[0]
            pca = detection_curve(snr_maps, only, [pca_threshold], width)["tpr"].iloc[0]
            print(f"| {label} | {net:.2f} | {at_operating:.2f} | {pca:.2f} |")

    by_separation(network_curve, pca_curve, network_maps, pca_maps, truths, fwhm)
    print_per_cube("In domain", per_cube)

    foreign_ratio = foreign_network_tpr / foreign_pca_tpr if foreign_pca_tpr > 0 else float("inf")
    print(f"\nForeign generator (make_empirical_sequence, GPI-H-like; held-out cubes {arguments.held_out}, {arguments.sets} sets each "
          f"of {len(foreign_radii)} companions, {foreign_seconds:.0f} s with the calibration; trained on: "
          f"{', '.join(generators)}):\n")
    print("| bar | measured | needed |")
    print("|---|---:|---:|")
    print(f"| TPR at <= 1 false positive per frame: network / ADI-PCA | {foreign_network_tpr:.2f} / "
          f"{foreign_pca_tpr:.2f} = {foreign_ratio:.1f}x | >= 2x |")
    print(f"| network at its operating threshold {operating:.4f} (chosen on the validation cube): TPR, false "
          f"positives per frame | {foreign_at_operating.tpr:.2f}, {foreign_at_operating.mean_fps:.2f} "
          f"({foreign_at_operating.tpr / foreign_pca_tpr if foreign_pca_tpr else float('inf'):.1f}x ADI-PCA at "
          f"1 FP/frame) | - |")
    print(f"| detections in a foreign cube without injections (seed 3001; threshold {operating:.4f}; its highest "
          f"probability {np.nanmax(foreign_empty_probability):.4f}) | {len(foreign_empty_peaks)} | 0 |")
    print("\nDetections in the foreign cube without injections:",
          [(round(float(np.hypot(y - foreign_empty.center[0], x - foreign_empty.center[1])) / foreign_fwhm, 2),
            round(value, 4)) for y, x, value, _ in foreign_empty_peaks], "(separation in lambda/D, probability)")
    by_separation(foreign_network_curve, foreign_pca_curve, foreign_network_maps, foreign_pca_maps, foreign_truths,
                  foreign_fwhm)
    print_per_cube("Foreign generator", foreign_per_cube)


if __name__ == "__main__":
    main()
