"""The end-to-end demo behind ``make demo`` / ``qusi-lab demo``.

One command runs the whole job on the embedded synthetic TESS sector:

1. write the sector (SPOC-format FITS files) laid out as a transit experiment,
   ``spoc_transit_experiment/{train,validation,test}/{positive,negative}``, split by star;
2. train a Hadryss network for a bounded time (balanced batches, augmentation,
   best-validation weights kept) and save it as a model bundle;
3. evaluate it on the test split;
4. rank *every* star of the sector with :func:`qusi_lab.inference.infer` (with a BLS
   period search on the top candidates) and write ``candidates.csv``;
5. write ``summary.html``: a static page with the metrics and, for the top candidates,
   the light curve (with the network's saliency) and the fold at the BLS period.

The defaults take about two to three minutes on two CPU cores; ``quick=True`` runs a tiny
version in seconds (to check an installation; the network learns nothing in that time).

Example
-------
>>> from qusi_lab.demo import run_demo
>>> result = run_demo("demo_output", n_stars=300)          # doctest: +SKIP
>>> result.candidates.head()                               # doctest: +SKIP
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qusi_lab.core.binning import bin_means
from qusi_lab.core.folding import fold_time

__all__ = ["run_demo", "DemoResult", "DEMO_DEFAULTS", "QUICK_DEFAULTS"]

#: Settings of the full demo (about 2-3 minutes on 2 cores).
DEMO_DEFAULTS: dict[str, Any] = {"n_stars": 400, "max_steps": 1500, "max_time": 100.0, "input_length": 1024,
                                 "batch_size": 32, "learning_rate": 3e-3, "top": 12, "period_search_top": 60}
#: Settings of ``quick=True`` (seconds; for tests and installation checks).
QUICK_DEFAULTS: dict[str, Any] = {"n_stars": 40, "max_steps": 20, "max_time": 20.0, "input_length": 256,
                                  "batch_size": 16, "learning_rate": 3e-3, "top": 3, "period_search_top": 5}


@dataclass
class DemoResult:
    """What :func:`run_demo` made.

    Attributes
    ----------
    datasets:
        One row per split: light curves per class, problems, input length.
    training:
        The :class:`~qusi_lab.training.TrainingResult`.
    evaluation:
        The :class:`~qusi_lab.training.EvaluationResult` on the test split (None without one).
    candidates:
        The ranked :class:`~qusi_lab.inference.CandidateTable` of the whole sector, with the
        synthetic truth (``true_kind``, ``true_period``) joined on.
    model_path, candidates_path, summary_path:
        The files written.
    seconds:
        Wall time of each stage.
    """

    datasets: pd.DataFrame
    training: Any
    evaluation: Any
    candidates: Any
    model_path: Path
    candidates_path: Path
    summary_path: Path
    seconds: dict[str, float]

    def __repr__(self) -> str:
        stages = ", ".join(f"{name} {value:.0f} s" for name, value in self.seconds.items())
        return (f"DemoResult({len(self.candidates)} stars ranked; {stages}; "
                f"summary: {self.summary_path})")


def _dataset_summary(datasets: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for split, dataset in datasets.items():
        counts = pd.Series([str(label) for label in dataset.labels]).value_counts()
        rows.append({
            "split": split,
            "light curves": len(dataset),
            **{name: int(counts.get(name, 0)) for name in dataset.label_names},
            "input length": dataset.input_length,
        })
    return pd.DataFrame(rows).set_index("split")


def _join_truth(table: Any, data_directory: Path) -> Any:
    """Add the synthetic truth (what was injected) to the candidate table, matched by file."""
    from qusi_lab.synthetic import load_truth

    truth = load_truth(data_directory, parse_parameters=False)
    kinds = dict(zip(truth["absolute_path"], truth["label"], strict=True))
    periods = dict(zip(truth["absolute_path"], truth["period"], strict=True))
    paths = [str(Path(path)) for path in table["path"]]
    table["true_kind"] = [kinds.get(path) for path in paths]
    table["true_period"] = [periods.get(path, np.nan) for path in paths]
    return table


# ----------------------------------------------------------------------------- figures


def _png(figure: Any) -> str:
    """A matplotlib Figure as a base64 PNG ``<img>`` source."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _new_figure(width: float, height: float, rows: int = 1, columns: int = 1, **grid: Any) -> tuple[Any, Any]:
    # Figure + Agg canvas directly (no pyplot): nothing global changes, whatever backend a notebook uses.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False, **grid)
    return figure, axes


def _history_figure(history: pd.DataFrame) -> str | None:
    if history is None or not len(history):
        return None
    figure, axes = _new_figure(9, 3.0, 1, 2)
    loss, metric = axes[0]
    loss.plot(history["step"], history["train_loss"], marker=".", label="training")
    if "val_loss" in history:
        loss.plot(history["step"], history["val_loss"], marker=".", label="validation")
    loss.set(xlabel="step", ylabel="loss", title="Loss")
    loss.legend()
    for column in ("val_auc_roc", "val_auc_pr"):
        if column in history:
            metric.plot(history["step"], history[column], marker=".", label=column.removeprefix("val_"))
    metric.set(xlabel="step", ylabel="validation", title="Validation metrics", ylim=(0, 1.02))
    metric.legend()
    return _png(figure)


def _binned(x: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    binned = bin_means(x, y, bins=bins)
    return binned.centers, binned.means


def _candidate_figure(model: Any, row: pd.Series) -> str:
    """Light curve with saliency, and the fold at the BLS period."""
    from qusi_lab.inference import saliency
    from qusi_lab.io import read_light_curve

    lc = read_light_curve(row["path"]).remove_nans()
    time, flux = lc.time, lc.flux / np.median(lc.flux)
    has_period = "period" in row and np.isfinite(row.get("period", np.nan))
    figure, axes = _new_figure(11, 2.6, 1, 2 if has_period else 1,
                               gridspec_kw={"width_ratios": [2.2, 1]} if has_period else {})
    curve_axis = axes[0][0]
    curve_axis.plot(time, flux, ",", color="0.6", rasterized=True)
    binned_time, binned_flux = _binned(time, flux, 600)
    curve_axis.plot(binned_time, binned_flux, ".", color="tab:blue", markersize=2)
    try:
        saliency_time, values = saliency(model, lc, return_time=True)
        positive = np.clip(values, 0, None)
        if positive.max() > 0:
            shade = curve_axis.twinx()
            shade.fill_between(saliency_time, 0, positive / positive.max(), color="tab:red", alpha=0.25, linewidth=0)
            shade.set_ylim(0, 4)
            shade.set_yticks([])
    except Exception:  # noqa: BLE001 - the picture is still useful without saliency
        pass
    curve_axis.set(xlabel="time [BTJD]", ylabel="relative flux",
                   title="light curve (red: where the network looked)")
    if has_period:
        fold_axis = axes[0][1]
        period, epoch = float(row["period"]), float(row["epoch"])
        duration = float(row["duration_hours"]) / 24.0
        phase_time = fold_time(time, period, epoch)
        window = min(0.5 * period, max(3 * duration, 0.2))
        near = np.abs(phase_time) < window
        fold_axis.plot(phase_time[near] * 24, flux[near], ",", color="0.6", rasterized=True)
        if near.sum() > 20:
            centers, means = _binned(phase_time[near] * 24, flux[near], 60)
            fold_axis.plot(centers, means, "o", color="tab:blue", markersize=3)
        fold_axis.set(xlabel="hours from mid-transit", title=f"folded at P = {period:.4f} d")
    return _png(figure)


# ----------------------------------------------------------------------------- HTML

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.1em; } .meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.text { text-align: left; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; margin: 1em 0; }
.card h3 { margin: 0.2em 0; } .truth-planet { color: #0a7a2f; } .truth-other { color: #a33; }
img { max-width: 100%; }
"""


def _table_html(frame: pd.DataFrame, digits: int = 4) -> str:
    return frame.to_html(border=0, float_format=lambda value: f"{value:.{digits}g}", na_rep="")


def _format(value: Any, spec: str) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    return "" if not np.isfinite(number) else format(number, spec)


def _recall_ceiling_text(evaluation: Any) -> str:
    """The test set's recall in the top fraction against its ceiling, in words ("" when not a binary result).

    Example
    -------
    >>> from types import SimpleNamespace
    >>> _recall_ceiling_text(SimpleNamespace(top_fraction=0.1, metrics={
    ...     "recall_at_top_10%": 0.44, "recall_at_top_10%_ceiling": 0.5, "recall_at_k_positives": 0.8}))
    'Recall in the top 10%: 0.44 of a possible 0.50 (the top 10% holds fewer places than there are positives), \
88% of the best any ranking could do; recall at k = number of positives (= precision there): 0.80.'
    """
    from qusi_lab.training.metrics import CEILING_SUFFIX, top_fraction_name

    name = top_fraction_name(evaluation.top_fraction)
    value = evaluation.metrics.get(name)
    ceiling = evaluation.metrics.get(name + CEILING_SUFFIX)
    if value is None or ceiling is None or not np.isfinite(value) or not np.isfinite(ceiling) or ceiling <= 0:
        return ""
    percent = f"{evaluation.top_fraction * 100:g}%"
    why = (" (the top " + percent + " holds fewer places than there are positives)") if ceiling < 1 else ""
    text = (f"Recall in the top {percent}: {value:.2f} of a possible {ceiling:.2f}{why}, "
            f"{value / ceiling:.0%} of the best any ranking could do")
    at_k = evaluation.metrics.get("recall_at_k_positives")
    if at_k is not None and np.isfinite(at_k):
        text += f"; recall at k = number of positives (= precision there): {at_k:.2f}"
    return text + "."


def _write_summary(path: Path, *, datasets: pd.DataFrame, training: Any, evaluation: Any, table: Any,
                   model: Any, top: int, seconds: dict[str, float], settings: dict[str, Any]) -> Path:
    from qusi_lab._version import __version__

    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>qusi_lab demo</title>"
             f"<style>{_STYLE}</style></head><body>",
             "<h1>qusi_lab demo: transit search in a synthetic TESS sector</h1>",
             f"<p class='meta'>qusi_lab {html.escape(__version__)} &middot; {created} &middot; "
             + " &middot; ".join(f"{html.escape(name)} {value:.0f} s" for name, value in seconds.items())
             + "</p>"]

    parts.append("<h2>Data</h2><p>One SPOC-format FITS file per star, split by star into train, validation "
                 "and test; <i>positive</i> = stars with transiting planets, <i>negative</i> = everything "
                 "else (eclipsing binaries, heartbeat stars, flare stars, quiet stars).</p>")
    parts.append(_table_html(datasets))

    parts.append("<h2>Training</h2>")
    settings_frame = pd.DataFrame({"value": {key: str(value) for key, value in settings.items()}})
    parts.append(_table_html(settings_frame))
    parts.append(f"<p>{html.escape(repr(training))}</p>")
    history_png = _history_figure(training.history)
    if history_png:
        parts.append(f"<img src='{history_png}' alt='training history'>")

    if evaluation is not None:
        parts.append("<h2>Test set</h2>")
        parts.append(_table_html(evaluation.to_frame()))
        recall_note = _recall_ceiling_text(evaluation)
        if recall_note:
            parts.append(f"<p>{html.escape(recall_note)}</p>")
        if evaluation.confusion_matrix is not None:
            parts.append(f"<p>Confusion matrix at threshold {evaluation.threshold:g} "
                         "(rows: true class, columns: predicted):</p>")
            parts.append(evaluation.confusion_matrix.to_html(border=0))

    scored = len(table)
    planets = int((table["true_kind"] == "planet").sum()) if "true_kind" in table else 0
    parts.append("<h2>Ranking the whole sector</h2>")
    summary = (f"{scored:,} of {table.attrs.get('light_curves', scored):,} light curves scored in "
               f"{table.attrs.get('seconds', float('nan')):.1f} s; {len(table.problems)} could not be used. ")
    if planets:
        tops = (10, 20, 50)
        found = [int((table["true_kind"].head(n) == "planet").sum()) for n in tops]
        # A top n holds at most n planets: say so, or 10 of 30 looks like a poor ranking.
        most = " / ".join(str(min(n, planets, scored)) for n in tops)
        summary += (f"The sector holds {planets} planets; the top 10 / 20 / 50 candidates contain "
                    f"{found[0]} / {found[1]} / {found[2]} of them (at most {most} could be).")
    parts.append(f"<p>{html.escape(summary)} The full table is <a href='candidates.csv'>candidates.csv</a>.</p>")
    columns = [column for column in ("rank", "target_id", "score", "period", "depth_ppm", "duration_hours",
                                     "bls_snr", "true_kind", "true_period") if column in table]
    parts.append(_table_html(table[columns].head(max(top, 20)).set_index("rank")))

    parts.append(f"<h2>Top {top} candidates</h2>")
    for _, row in table.head(top).iterrows():
        kind = row.get("true_kind")
        css = "truth-planet" if kind == "planet" else "truth-other"
        details = [f"score {_format(row['score'], '.3f')}"]
        if np.isfinite(row.get("period", np.nan)):
            details.append(f"BLS period {_format(row['period'], '.4f')} d, depth {_format(row['depth_ppm'], '.0f')} ppm, "
                           f"duration {_format(row['duration_hours'], '.1f')} h, SNR {_format(row['bls_snr'], '.1f')}")
        if kind is not None:
            truth = f"truth: {kind}"
            if np.isfinite(row.get("true_period", np.nan)):
                truth += f", P = {_format(row['true_period'], '.4f')} d"
            details.append(f"<span class='{css}'>{html.escape(truth)}</span>")
        parts.append(f"<div class='card'><h3>#{int(row['rank'])} {html.escape(str(row['target_id']))}</h3>"
                     f"<p>{' &middot; '.join(details)}</p>")
        try:
            parts.append(f"<img src='{_candidate_figure(model, row)}' alt='light curve of {html.escape(str(row['target_id']))}'>")
        except Exception as error:  # noqa: BLE001 - one unreadable file must not lose the report
            parts.append(f"<p>(no plot: {html.escape(str(error))})</p>")
        parts.append(f"<p class='meta'>{html.escape(str(row['path']))}</p></div>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- the demo


def run_demo(
    out: str | os.PathLike[str] = "demo_output",
    *,
    n_stars: int | None = None,
    seed: int = 0,
    max_steps: int | None = None,
    max_time: float | None = None,
    input_length: int | None = None,
    quick: bool = False,
    top: int | None = None,
    num_workers: int | None = None,
    progress: bool = True,
) -> DemoResult:
    """Build the synthetic sector under ``out``, train, evaluate, rank every star, write the report.

    Parameters
    ----------
    out:
        Output folder: ``data/`` (the sector), ``model/`` (the trained bundle),
        ``candidates.csv`` and ``summary.html``.
    n_stars:
        Stars in the sector (default 400; 40 with ``quick``).
    seed:
        Seed of the sector and of training.
    max_steps, max_time:
        Training budget: steps and seconds, whichever comes first (default 1500 steps,
        100 s; 20 and 20 with ``quick``).
    input_length:
        Network input length (default 1024 bins, ~39 minutes each over a sector: transits
        of an hour or more stay visible and training is 3x faster than at 4096).
    quick:
        Tiny sizes (see :data:`QUICK_DEFAULTS`).
    top:
        Candidates plotted in the summary (default 12).
    num_workers:
        DataLoader workers (default 2, or fewer CPUs).
    progress:
        Progress bars.

    Returns
    -------
    DemoResult
    """
    import torch

    from qusi_lab import synthetic
    from qusi_lab.data import LightCurveDataset
    from qusi_lab.inference import infer, save_candidates
    from qusi_lab.models import model_for_task
    from qusi_lab.training import evaluate, train
    from qusi_lab.transforms import default_preprocessing

    defaults = QUICK_DEFAULTS if quick else DEMO_DEFAULTS
    n_stars = int(n_stars or defaults["n_stars"])
    max_steps = int(max_steps or defaults["max_steps"])
    max_time = float(max_time or defaults["max_time"])
    length = int(input_length or defaults["input_length"])
    top = int(top or defaults["top"])
    workers = min(2, os.cpu_count() or 1) if num_workers is None else int(num_workers)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_directory = out / "data"
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    sector = synthetic.make_sector(data_directory, n_stars=n_stars, seed=seed, experiment=True)
    seconds["sector"] = time.perf_counter() - started
    print(f"Synthetic TESS sector: {n_stars} stars written to {data_directory} in {seconds['sector']:.1f} s")
    print(sector)
    experiment = data_directory / "spoc_transit_experiment"
    datasets = LightCurveDataset.from_experiment(experiment, preprocessing=default_preprocessing(length))
    summary = _dataset_summary(datasets)
    print()
    print(summary.to_string())

    threads = torch.get_num_threads()
    # Small batches on a few cores: one torch thread is fastest and is not slowed by busy cores.
    torch.set_num_threads(1)
    try:
        started = time.perf_counter()
        torch.manual_seed(seed)
        model = model_for_task("hadryss", length, "binary")
        training = train(
            model, datasets["train"], datasets["validation"],
            max_steps=max_steps, max_time=max_time, batch_size=defaults["batch_size"],
            learning_rate=defaults["learning_rate"], balance="equal", seed=seed, num_workers=workers,
            validation_every=max(5, min(100, max_steps // 10)), checkpoint_dir=out / "checkpoints",
            resume=False, progress=progress,
        )
        model_path = training.save(out / "model")
        seconds["training"] = time.perf_counter() - started
        print()
        print(training)

        evaluation = None
        if "test" in datasets:
            started = time.perf_counter()
            evaluation = evaluate(training.model, datasets["test"], num_workers=workers)
            seconds["evaluation"] = time.perf_counter() - started
            print()
            print("Test set:")
            print(evaluation)

        started = time.perf_counter()
        table = infer(training.model, experiment, num_workers=workers, progress=progress,
                      period_search_top=defaults["period_search_top"])
        table = _join_truth(table, data_directory)
        candidates_path = save_candidates(table, out / "candidates.csv")
        seconds["inference"] = time.perf_counter() - started
        print()
        print(f"Ranked {len(table)} light curves in {seconds['inference']:.1f} s -> {candidates_path}")
        shown = [column for column in ("rank", "target_id", "score", "period", "depth_ppm", "true_kind",
                                       "true_period") if column in table]
        print(table[shown].head(10).to_string(index=False, float_format=lambda value: f"{value:.4g}"))

        started = time.perf_counter()
        settings = {"stars": n_stars, "input length": length, "max steps": max_steps, "max time (s)": max_time,
                    "batch size": defaults["batch_size"], "learning rate": defaults["learning_rate"],
                    "balance": "equal", "seed": seed, "workers": workers}
        summary_path = _write_summary(out / "summary.html", datasets=summary, training=training,
                                      evaluation=evaluation, table=table, model=training.model, top=top,
                                      seconds=seconds, settings=settings)
        seconds["report"] = time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)
    print(f"Summary written to {summary_path}")
    return DemoResult(datasets=summary, training=training, evaluation=evaluation, candidates=table,
                      model_path=Path(model_path), candidates_path=candidates_path, summary_path=summary_path,
                      seconds=seconds)
