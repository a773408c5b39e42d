"""The vetting panel's real widgets, driven as a user would: sliders, buttons, key events (ipyevents messages).

The data are a small synthetic TESS sector (SPOC FITS files and truth.csv) ranked by a real
(untrained) network bundle, so every figure is computed from real files through real code.
"""

from __future__ import annotations

import html
import itertools
import math
import warnings
from typing import TypeVar

import numpy as np
import pandas as pd
import pytest

from qusi_lab.vetting import CandidateQueue, read_verdicts
from qusi_lab.vetting.panel import VettingPanel

T = TypeVar("T")


def must(value: T | None) -> T:
    """The value, asserting it is there (keeps the type checker and the reader sure of it)."""
    assert value is not None
    return value


@pytest.fixture(scope="module")
def sector(tmp_path_factory):
    import torch

    from qusi_lab.inference import infer, read_candidates, save_candidates
    from qusi_lab.models import Hadryss
    from qusi_lab.synthetic import make_sector
    from qusi_lab.training import save_bundle
    from qusi_lab.transforms import default_preprocessing

    root = tmp_path_factory.mktemp("vetting_sector")
    result = make_sector(root / "data", n_stars=10, seed=2, num_workers=1)
    torch.manual_seed(0)
    bundle = save_bundle(Hadryss(input_length=256), root / "model", task="binary",
                         label_names=["negative", "positive"], preprocessing=default_preprocessing(256))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = infer(bundle, [str(path) for path in result.paths], num_workers=0, progress=False)
    candidates = save_candidates(table, root / "candidates.csv")
    # The table as the panel reads it (scores through CSV text: comparisons at a threshold agree exactly).
    return {"root": root, "candidates": candidates, "table": read_candidates(candidates), "truth": result.truth,
            "data": root / "data"}


@pytest.fixture
def panel(sector, tmp_path):
    built = VettingPanel(sector["candidates"], labels=tmp_path / "labels.csv", preload=2)
    yield built
    built.close()


_STAMPS = itertools.count(1000)


def key(panel, name, tag="DIV", watcher=0, **modifiers):
    """Send a keydown exactly as ipyevents' browser side does (the message its Event widget receives)."""
    message = {"event": "keydown", "type": "keydown", "key": name, "code": f"Key{name.upper()}", "location": 0,
               "repeat": False, "altKey": False, "ctrlKey": False, "metaKey": False, "shiftKey": False,
               "timeStamp": float(next(_STAMPS)), "target": {"tagName": tag, "id": "", "className": "widget-box"}}
    message.update(modifiers)
    events = panel.key_events[watcher]
    events._handle_mouse_msg(events, message, [])
    return message


def labels_file(panel):
    return read_verdicts(panel.store.path, latest=False)


def test_the_panel_shows_the_best_candidate_with_its_figures(panel, sector):
    table = sector["table"]
    best = table.sort_values("score", ascending=False).iloc[0]
    assert must(panel.queue.current).target_id == best.target_id
    assert best.target_id in panel.title.value and "0 of 10 vetted" in panel.progress_label.value
    figures = panel.figures
    assert len(figures.sources["raw"].data["x"]) > 10_000  # a 2-min sector, every cadence drawn
    assert figures.time_range.start < figures.sources["raw"].data["x"][0]
    assert len(figures.sources["saliency"].data["y"]) == 256  # the bundle's input length
    assert len(figures.sources["fold_binned"].data["x"]) > 10
    assert "Folded · P = " in figures.fold.title.text
    metadata = panel.metadata.value
    for expected in ("TESS sector 1", "Tmag", "Injected truth", "probability of class &#x27;positive&#x27;"):
        assert expected in metadata
    truth = sector["truth"].set_index("target_id").loc[best.target_id]
    assert str(truth.label) in metadata
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id


def test_clicking_a_verdict_saves_it_and_moves_on(panel):
    first = panel.queue.current
    panel.note.value = "U-shaped, no secondary"
    panel.verdict_buttons[0].click()
    frame = labels_file(panel)
    assert frame[["target_id", "verdict", "note", "action"]].values.tolist() == [
        [first.target_id, "planet candidate", "U-shaped, no secondary", "verdict"]]
    assert frame.model.iloc[0].endswith("model") and frame.score.iloc[0] == pytest.approx(first.score)
    assert must(panel.queue.current).target_id != first.target_id
    assert "Saved <b>planet candidate</b>" in panel.status.value and "1 of 10 vetted" in panel.progress_label.value
    assert panel.note.value == ""
    panel.previous_button.click()
    assert must(panel.queue.current).key == first.key
    chosen = panel.verdict_buttons[0]
    assert chosen.style.font_weight == "bold" and chosen.style.button_color != "#f1f3f5"
    assert panel.note.value == "U-shaped, no secondary"  # the saved note comes back with the candidate
    assert "planet candidate" in panel.title.value


def test_keyboard_shortcuts(panel):
    order = [must(panel.queue.current).key]
    pressed = key(panel, "2")  # eclipsing binary
    order.append(must(panel.queue.current).key)
    # The same press delivered twice (ipyevents listening twice) counts once.
    panel.key_events[1]._handle_mouse_msg(panel.key_events[1], dict(pressed), [])
    assert must(panel.queue.current).key == order[1]
    key(panel, "j")
    key(panel, "ArrowRight")
    key(panel, "k")
    key(panel, "ArrowLeft")
    assert must(panel.queue.current).key == order[1]
    key(panel, "3", tag="INPUT")  # typing in the note field is not a verdict
    key(panel, "4", ctrlKey=True)  # nor a browser shortcut
    key(panel, "9")  # no ninth verdict
    assert len(labels_file(panel)) == 1
    key(panel, "6")  # unsure, on order[1]
    key(panel, "u", watcher=1)  # over the fold and verdict buttons too
    assert must(panel.queue.current).key == order[1]
    key(panel, "u")
    assert must(panel.queue.current).key == order[0]
    frame = labels_file(panel)
    assert frame.action.tolist() == ["verdict", "verdict", "undo", "undo"]
    assert frame.verdict.tolist() == ["eclipsing binary", "unsure", "", ""]
    assert read_verdicts(panel.store.path).empty
    assert panel.undo_button.disabled
    key(panel, "u")
    assert "Nothing to undo" in panel.status.value


def test_score_slider_and_label_filter(panel, sector):
    scores = np.sort(sector["table"].score.to_numpy())[::-1]
    panel.verdict_buttons[1].click()  # the best one: eclipsing binary
    threshold = float(scores[3])
    panel.score_slider.value = threshold
    assert panel.queue.min_score == pytest.approx(threshold)
    above = int((scores >= panel.score_slider.value).sum())
    assert f"1 of {above} vetted" in panel.progress_label.value
    assert f"/ {above - 1} shown" in panel.position_label.value
    panel.show_dropdown.value = "eclipsing binary"
    assert must(panel.queue.current).score == pytest.approx(scores[0]) and "1 / 1 shown" in panel.position_label.value
    assert panel.next_button.disabled and panel.previous_button.disabled
    panel.show_dropdown.value = "planet candidate"  # nothing: the figures say so
    assert panel.queue.current is None
    assert "No candidate passes the filters" in panel.figures.light_curve.title.text
    # In place of empty axes: why nothing is shown (the queue's reason when it can give one), figures hidden.
    reason = getattr(panel.queue, "why_empty", lambda: None)() or "No candidate passes the filters"
    assert panel._body.layout.display == "none" and panel.empty_message.layout.display != "none"
    assert html.escape(reason) in panel.empty_message.value
    assert all(button.disabled for button in panel.verdict_buttons)
    key(panel, "1")
    assert len(labels_file(panel)) == 1
    panel.show_dropdown.value = "all"
    assert panel._body.layout.display != "none" and panel.empty_message.layout.display == "none"
    panel.score_slider.value = panel.score_slider.min
    assert "1 of 10 vetted" in panel.progress_label.value and "/ 10 shown" in panel.position_label.value


def test_an_empty_queue_says_why_in_place_of_the_figures(sector, tmp_path):
    top = float(sector["table"].score.max())
    with pytest.warns(UserWarning, match="above all 10 scores"):
        panel = VettingPanel(sector["candidates"], labels=tmp_path / "labels.csv", min_score=1.5, preload=0)
    try:
        reason = must(panel.queue.why_empty())
        assert "min_score=1.5 is above all 10 scores" in reason
        assert panel._body.layout.display == "none" and html.escape(reason) in panel.empty_message.value
        panel.score_slider.value = top  # the user follows the advice
        assert must(panel.queue.current).score == pytest.approx(top)
        assert panel._body.layout.display != "none" and panel.empty_message.layout.display == "none"
        assert len(panel.figures.sources["raw"].data["x"]) > 0
    finally:
        panel.close()


def test_jump_to_a_target_id(panel, sector):
    last = sector["table"].sort_values("score").iloc[0]
    panel.jump_text.value = last.target_id.split()[-1]  # digits only, as typed
    assert must(panel.queue.current).target_id == last.target_id
    assert last.target_id in panel.title.value
    panel.jump_text.value = "TIC 1"
    assert "No candidate TIC 1" in panel.status.value and must(panel.queue.current).target_id == last.target_id


def test_period_buttons_and_heartbeat_view(panel, sector):
    truth = sector["truth"]
    heartbeat = truth[truth.label == "heartbeat"].iloc[0]
    panel.go_to(heartbeat.target_id)
    period = panel._view.period
    markers = len(panel.figures.sources["markers"].data["x"])
    panel.double_button.click()
    assert f"{2 * period:.5g} d" in panel.figures.fold.title.text and "2 × " in panel.period_label.value
    assert len(panel.figures.sources["markers"].data["x"]) in (markers // 2, markers // 2 + 1)
    panel.half_button.click()
    panel.half_button.click()
    assert f"{period / 2:.5g} d" in panel.figures.fold.title.text
    assert "1/2 × table period" in panel.period_label.value
    panel.mode_buttons.value = "heartbeat"
    assert "periastron" in panel.figures.fold.title.text
    assert not panel.figures.zoom_row.visible
    assert f"{period:.5g} d" in panel.figures.fold.title.text  # a new view starts at the table's period
    model = panel.figures.sources["model"].data
    assert len(model["x"]) > 50  # the injected heartbeat model (truth.csv) over the fold
    assert panel.figures.fold_legend.items[3].label.value == "injected model"
    panel.mode_buttons.value = "transit"
    assert panel.figures.zoom_row.visible and "Odd" in panel.figures.zooms["odd"].title.text


@pytest.mark.parametrize("mode", ["transit", "heartbeat"])
def test_the_period_box_and_the_harmonic_buttons(panel, sector, mode):
    """Type a period (Enter applies), ÷N and ×N for N = 2..5, ↺ back to the table's, in both views; what cannot
    be a period gets a message beside the box and leaves the fold as it was."""
    panel.mode_buttons.value = mode
    period = panel._view.period
    assert set(panel.period_buttons) == {"÷5", "÷4", "÷3", "÷2", "×2", "×3", "×4", "×5"}
    panel.period_buttons["×3"].click()
    assert f"P = {3 * period:.5g} d" in panel.figures.fold.title.text
    assert f"<b>{3 * period:.6g} d</b> (3 × table period)" in panel.period_label.value
    panel.period_buttons["÷5"].click()
    assert f"P = {0.6 * period:.5g} d" in panel.figures.fold.title.text and "(3/5 × table" in panel.period_label.value
    panel.period_buttons["×5"].click()
    panel.period_buttons["÷4"].click()
    assert "(3/4 × table" in panel.period_label.value
    panel.table_period_button.click()
    assert f"P = {period:.5g} d" in panel.figures.fold.title.text and "×" not in panel.period_label.value

    typed = round(2.37 * period, 4)
    panel.period_text.value = f"{typed}"  # what Enter sends (continuous_update=False)
    assert f"P = {typed:.5g} d" in panel.figures.fold.title.text
    assert panel._folded is not None and panel._folded.period == pytest.approx(typed)
    assert f"({typed / period:.4g} × table period)" in panel.period_label.value
    for bad, said in (("two days", "is not a period"), ("-3", "positive number of days"),
                      ("0", "positive number of days"), (f"{period * 100}", "outside 1/64 to 64")):
        panel.period_text.value = bad
        assert said in panel.period_label.value, bad
        assert panel._folded.period == pytest.approx(typed)  # the fold stays as it was
        assert f"P = {typed:.5g} d" in panel.figures.fold.title.text
    panel.period_text.value = f"{period / 3:.5f}".replace(".", ",")  # a decimal comma
    assert panel._folded.period == pytest.approx(period / 3, abs=1e-5) and "1/3 × table" in panel.period_label.value
    panel.period_text.value = f"{period / 2} d"
    assert panel._folded.period == pytest.approx(period / 2) and "1/2 × table period" in panel.period_label.value
    assert "is not a period" not in panel.period_label.value  # the message went with the problem
    panel.verdict_buttons[0].click()  # the next candidate starts at its table period, the box empty
    assert panel.period_text.value == "" and "×" not in panel.period_label.value
    assert panel._folded.period == pytest.approx(panel._view.period)


def test_transit_checks_on_an_eclipsing_binary(sector, tmp_path):
    truth = sector["truth"]
    binary = truth[truth.label == "eclipsing_binary"].iloc[0]
    table = pd.DataFrame({"path": [str(sector["data"] / binary.path)], "target_id": [binary.target_id],
                          "mission": ["TESS"], "sector": [1], "score": [0.9], "period": [binary.period],
                          "epoch": [binary.epoch], "duration_hours": [binary.duration_hours]})
    panel = VettingPanel(table, tmp_path / "labels.csv", model=None)
    folded = panel._folded
    assert folded is not None and math.isfinite(folded.secondary_phase)
    assert abs(folded.secondary_phase - 0.5) < 0.05  # a circular binary: the secondary at phase 0.5
    assert folded.secondary_depth_ppm > 3 * folded.secondary_depth_error_ppm
    assert panel.figures.zooms["secondary"].xaxis[0].axis_label == f"hours from φ {folded.secondary_phase:.2f}"
    # The third zoom says what it is (not "Sec.": the deepest dip at any phase is not always an eclipse) and
    # how significant it is; the numbers are in the caption under the zooms, where they can wrap.
    sigma = folded.secondary_depth_ppm / folded.secondary_depth_error_ppm
    assert panel.figures.zooms["secondary"].title.text == f"Dip off transit, {sigma:.1f}σ"
    caption = panel.figures.checks.text
    assert (f"deepest dip away from transit</span> (dashed): φ {folded.secondary_phase:.2f}, "
            f"{folded.secondary_depth_ppm:,.0f} ± {folded.secondary_depth_error_ppm:,.0f} ppm, {sigma:.1f}σ") in caption
    assert f"{folded.odd_depth_ppm:,.0f} ± {folded.odd_depth_error_ppm:,.0f} ppm" in caption
    assert all(len(zoom.title.text) <= 24 for zoom in panel.figures.zooms.values())  # short enough for ~110 px
    assert f"{sigma:.1f}σ at φ" in panel.metadata.value
    assert "Saliency unavailable: no model" in panel.figures.saliency.title.text
    panel.close()


@pytest.mark.slow
def test_reopening_resumes_and_two_panels_share_the_file(panel, sector):
    panel.verdict_buttons[0].click()
    panel.verdict_buttons[3].click()
    expected = must(panel.queue.current).key
    other = VettingPanel(sector["candidates"], labels=panel.store.path, user="ben", preload=0)
    assert must(other.queue.current).key == expected and "2 of 10 vetted" in other.progress_label.value
    other.verdict_buttons[4].click()
    panel.next_button.click()  # any move takes in what the other panel wrote
    assert "3 of 10 vetted" in panel.progress_label.value
    assert set(read_verdicts(panel.store.path).user) == {panel.store.user, "ben"}
    other.close()


def test_an_unreadable_file_is_shown_not_raised(sector, tmp_path):
    broken = tmp_path / "broken_lc.fits"
    broken.write_bytes(b"SIMPLE  =                    T" + b"\0" * 100)
    good = sector["table"].iloc[0]
    table = pd.DataFrame({"path": [str(broken), good.path], "target_id": ["TIC 5", good.target_id],
                          "score": [0.99, 0.5]})
    panel = VettingPanel(table, tmp_path / "labels.csv", model=None, preload=0)
    assert "Could not read the light curve" in panel.figures.light_curve.title.text
    assert "broken_lc.fits" in panel.metadata.value and "error" in panel.metadata.value
    panel.verdict_buttons[4].click()  # still possible to call it a systematic and move on
    assert must(panel.queue.current).target_id == good.target_id
    assert len(panel.figures.sources["raw"].data["x"]) > 0
    assert CandidateQueue(table, tmp_path / "labels.csv").progress_text == "1 of 2 vetted"
    panel.close()


def test_next_candidate_comes_from_the_preloaded_cache(panel):
    # How fast: benchmarks/bench_vetting.py and bench_interactive.py (wall-clock limits are not unit tests).
    panel.next()
    upcoming = panel.queue.upcoming(2)
    preloaded = [panel.preloader.get(candidate) for candidate in upcoming]  # wait for the background preloading
    assert all(panel.preloader.is_ready(candidate) for candidate in upcoming)
    panel.next_button.click()
    assert must(panel.queue.current).key == upcoming[0].key
    assert panel._view is preloaded[0]  # the preloaded view itself: nothing read or computed in the click


def descendants(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from descendants(child)


def test_the_keys_help_opens_and_closes(panel):
    assert panel.help.layout.display == "none"  # compact: one "?" button near the verdicts
    panel.help_button.value = True
    assert panel.help.layout.display != "none"
    assert "<kbd>j</kbd>" in panel.help.value and str(panel.store.path) in panel.help.value
    panel.help_button.value = False
    assert panel.help.layout.display == "none"


def test_keys_are_watched_over_figures_and_buttons_not_over_text_fields(panel):
    watched = {id(widget) for events in panel.key_events for widget in descendants(events.source)}
    assert {id(panel.light_curve_plot), id(panel.fold_plot), id(panel.verdict_buttons[0])} <= watched
    assert {id(panel.half_button), id(panel.period_buttons["×5"])} <= watched
    assert not {id(panel.note), id(panel.jump_text), id(panel.score_slider), id(panel.period_text)} & watched


@pytest.mark.slow
def test_heartbeat_view_draws_a_fitted_model_on_the_injected_one(sector, tmp_path):
    """The heartbeat view of the panel: the folded curve with the periastron feature at phase 0, the injected
    model (truth.csv) and the heartbeat model fitted to the fold, which must follow the injected one."""
    truth = sector["truth"]
    star = truth[truth.label == "heartbeat"].sort_values("snr").iloc[-1]
    table = pd.DataFrame({"path": [str(sector["data"] / star.path)], "target_id": [star.target_id],
                          "mission": ["TESS"], "sector": [1], "score": [0.9], "period": [star.period],
                          "epoch": [star.epoch]})
    panel = VettingPanel(table, tmp_path / "labels.csv", model=None, view="heartbeat")
    folded = must(panel._folded)
    fit = must(folded.fit)
    sources = panel.figures.sources
    injected_x, injected_y = (np.asarray(sources["model"].data[name], dtype=np.float64) for name in ("x", "y"))
    fit_x, fit_y = (np.asarray(sources["fit"].data[name], dtype=np.float64) for name in ("x", "y"))
    assert len(injected_x) > 100 and len(fit_x) > 100
    legend = panel.figures.fold_legend.items
    assert (legend[3].label.value, legend[3].visible) == ("injected model", True)
    assert (legend[4].label.value, legend[4].visible) == ("heartbeat fit", True)
    assert "periastron feature at phase 0" in panel.figures.fold.title.text
    assert "heartbeat model: e " in panel.metadata.value and f"e {fit.eccentricity:.2f}" in panel.metadata.value
    amplitude = float(np.ptp(injected_y))
    difference = (fit_y - np.median(fit_y)) - (np.interp(fit_x, injected_x, injected_y) - np.median(injected_y))
    assert np.sqrt(np.mean(difference**2)) < 0.15 * amplitude, (star.snr, amplitude)
    panel.fold_at(2.0)  # refolding refits and updates the card
    assert must(must(panel._folded).fit).period == pytest.approx(2 * star.period)
    panel.close()

    no_fit = VettingPanel(table, tmp_path / "labels.csv", model=None, view="heartbeat", model_fit=None)
    assert len(no_fit.figures.sources["fit"].data["x"]) == 0 and not no_fit.figures.fold_legend.items[4].visible
    assert "heartbeat model" not in no_fit.metadata.value
    no_fit.close()
    with pytest.raises(ValueError, match="model_fit"):
        VettingPanel(table, tmp_path / "labels.csv", model=None, model_fit="least squares")


def test_each_figure_gets_one_patch_message_per_candidate(panel):
    """BokehJS lays the figures out again after every message: one candidate = one patch per figure."""
    import json

    sent: dict[str, list[dict]] = {"left": [], "right": []}
    for name, plot in (("left", panel.light_curve_plot), ("right", panel.fold_plot)):
        plot.send = lambda content, buffers=None, _name=name: sent[_name].append(content)  # type: ignore[method-assign]
    panel.go_to(str(panel.queue.table.iloc[-1].target_id))  # not drawn ahead: redrawn on screen
    for name in ("left", "right"):
        headers = [json.loads(message["payload"]) for message in sent[name]
                   if "payload" in message and '"msgtype"' in message["payload"]]
        assert [header["msgtype"] for header in headers] == ["PATCH-DOC"], (name, headers)
        contents = [json.loads(message["payload"]) for message in sent[name]
                    if "payload" in message and '"events"' in message["payload"]]
        assert len(contents) == 1 and len(contents[0]["events"]) >= 5  # sources, ranges, titles together
    # Outside an update the widget still sends each change at once, as jupyter_bokeh's BokehModel does.
    sent["left"].clear()
    panel.figures.light_curve.title.text = "changed by hand"
    assert any('"msgtype"' in message.get("payload", "") for message in sent["left"])


def test_the_next_candidate_is_drawn_ahead_in_hidden_figures_and_swapped_in(panel):
    """The panel keeps two sets of figures: the next candidate is drawn into the hidden one, and moving on swaps
    them (a class change in the browser) instead of redrawing."""
    upcoming = panel.queue.upcoming(1, previous=False)[0]
    assert panel.prepare_next() == upcoming
    front, hidden = panel.light_curve_plot, panel._sets[1 - panel._front].left
    assert "qv-standby" in hidden._dom_classes and "qv-standby" not in front._dom_classes
    hidden_figures = panel._sets[1 - panel._front].figures
    assert upcoming.target_id in hidden_figures.light_curve.title.text
    assert len(hidden_figures.sources["raw"].data["x"]) > 10_000
    sent: list[dict] = []
    for widget in (hidden, panel._sets[1 - panel._front].right):
        widget.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    panel.next()
    assert panel.queue.current.key == upcoming.key
    assert panel.light_curve_plot is hidden and panel.figures is hidden_figures  # swapped, not redrawn
    assert "qv-standby" in front._dom_classes and "qv-standby" not in hidden._dom_classes
    assert not any('"msgtype"' in message.get("payload", "") for message in sent)  # no patch: nothing to draw
    assert panel.timings["view"] == 0.0  # the view was not computed again
    # The previous candidate is still drawn in the figures now hidden: back is a swap too, until the next one
    # is drawn there.
    panel.previous()
    assert panel.light_curve_plot is front
    panel.next()
    assert panel.prepare_next() == panel.queue.upcoming(1, previous=False)[0]
    assert panel.queue.upcoming(1, previous=False)[0].target_id in \
        panel._sets[1 - panel._front].figures.light_curve.title.text
    # A candidate that was not drawn ahead (a jump) is drawn into the figures on screen.
    last = panel.queue.table.iloc[-1]
    on_screen = panel.light_curve_plot
    panel.go_to(str(last.target_id))
    assert panel.light_curve_plot is on_screen and str(last.target_id) in panel.figures.light_curve.title.text


@pytest.mark.slow
def test_in_an_event_loop_the_next_candidate_is_drawn_ahead_by_itself(sector, tmp_path):
    """In a kernel the panel draws ahead on its event loop, STANDBY_DELAY after each change, without blocking it;
    with draw_ahead=False it never does."""
    import asyncio
    import time

    from qusi_lab.vetting import panel as panel_module

    async def run(draw_ahead: bool) -> tuple[bool, bool]:
        panel = VettingPanel(sector["candidates"], labels=tmp_path / f"labels-{draw_ahead}.csv", preload=2,
                             draw_ahead=draw_ahead)
        try:
            first_swap = panel._sets[1 - panel._front].drawn is not None  # drawn in the constructor
            panel.next()
            upcoming = panel.queue.upcoming(1, previous=False)[0]
            deadline = time.monotonic() + (30 if draw_ahead else panel_module.STANDBY_DELAY + 1.0)
            while time.monotonic() < deadline:  # the loop stays free: this coroutine keeps running
                await asyncio.sleep(0.05)
                if panel._sets[1 - panel._front].drawn == (upcoming.position, upcoming.key):
                    break
            drawn = panel._sets[1 - panel._front].drawn == (upcoming.position, upcoming.key)
            assert panel.draw_ahead_error is None
            return first_swap, drawn
        finally:
            panel.close()

    assert panel_module.STANDBY_DELAY < 1.0
    assert asyncio.run(run(True)) == (True, True)
    assert asyncio.run(run(False)) == (False, False)
