"""The augmentation tuner's controls: slider ranges per augmentation (:data:`PARAMETER_SPECS`) and a row of
widgets per pipeline step. Users extend :data:`PARAMETER_SPECS` through :mod:`qusi_lab.widgets.tuner`, which
re-exports it (the same dict).
"""

from __future__ import annotations

import html
import inspect
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np

from qusi_lab.transforms import Augmentation, Transform

__all__ = ["ParameterSpec", "PARAMETER_SPECS", "PROBABILITY_SPEC"]


# ------------------------------------------------------------------ parameter controls


@dataclass(frozen=True)
class ParameterSpec:
    """How the tuner shows one parameter: a ``"float"``/``"int"`` slider, a ``"range"`` slider or a ``"choice"``.

    ``names`` is one parameter name, or two (``("low", "high")``) shown as one range slider.
    """

    kind: str
    names: tuple[str, ...]
    minimum: float = 0.0
    maximum: float = 1.0
    step: float = 0.01
    options: tuple[str, ...] = ()
    description: str = ""


PROBABILITY_SPEC = ParameterSpec("float", ("probability",), 0.0, 1.0, 0.01, description="chance")

# Slider ranges for the built-in augmentations: wide enough to explore, narrow enough that the slider
# has resolution where values make sense (a user's value outside a range widens it).
PARAMETER_SPECS: dict[str, tuple[ParameterSpec, ...]] = {
    "TimeStretch": (ParameterSpec("range", ("low", "high"), 0.5, 2.0, 0.01, description="stretch factor"),),
    "RandomRoll": (ParameterSpec("float", ("max_fraction",), 0.0, 1.0, 0.01, description="largest shift"),),
    "Flip": (),
    "ScaleFlux": (ParameterSpec("range", ("low", "high"), 0.05, 3.0, 0.01, description="scale factor"),),
    "AddNoise": (
        ParameterSpec("float", ("std",), 0.0, 3.0, 0.05, description="noise std"),
        ParameterSpec("choice", ("units",), options=("mad", "flux"), description="std units"),
    ),
    "CadenceDropout": (ParameterSpec("float", ("fraction",), 0.0, 0.5, 0.005, description="dropped share"),),
    "RandomGaps": (
        ParameterSpec("int", ("count",), 0, 10, 1, description="gaps"),
        ParameterSpec("float", ("max_length_fraction",), 0.0, 0.5, 0.005, description="longest gap"),
    ),
}
"""Controls per built-in augmentation; other transforms get a number, check or text box per parameter."""

# The tuner shows the controls in a column ~380 px wide beside its plots: a step's name and its chance on one
# row, then a row per parameter whose slider starts where the chance slider starts (205 px in).
_CONTROL_LAYOUT = {"width": "385px"}
_STYLE = {"description_width": "205px"}
_NAME_WIDTH = "150px"  # "CadenceDropout" whole in JupyterLab's font
_PROBABILITY_LAYOUT = {"width": "235px"}
_PROBABILITY_STYLE = {"description_width": "55px"}


def _decimals(step: float) -> int:
    text = f"{step:.10f}".rstrip("0")
    return max(0, len(text.split(".")[1]) if "." in text else 0)


def _clean_float(value: float) -> float:
    """A slider value without float noise (0.30000000000000004 -> 0.3), so saved pipelines read well."""
    return float(f"{float(value):.12g}")


def _spec_widget(
    spec: ParameterSpec, params: dict[str, Any], *, layout: dict[str, str] | None = None,
    style: dict[str, str] | None = None,
) -> widgets.Widget:
    """The widget for ``spec`` showing the current ``params`` values (ranges widen to include them)."""
    label = spec.description or spec.names[0]
    common: dict[str, Any] = {
        "description": label,
        "tooltip": " / ".join(spec.names),  # the parameter name(s), as in the code and the saved JSON
        "style": style or _STYLE,
        "layout": widgets.Layout(**(layout or _CONTROL_LAYOUT)),
        "continuous_update": True,
    }
    if spec.kind == "choice":
        value = params[spec.names[0]]
        options = list(spec.options) if value in spec.options else [*spec.options, value]
        return widgets.Dropdown(
            options=options, value=value, description=label, tooltip=common["tooltip"], style=_STYLE,
            layout=widgets.Layout(width="300px"),
        )
    values = [params[name] for name in spec.names]
    minimum = min([spec.minimum, *values])
    maximum = max([spec.maximum, *values])
    if spec.kind == "int":
        return widgets.IntSlider(value=int(values[0]), min=int(minimum), max=int(maximum), step=1, **common)
    readout = f".{_decimals(spec.step)}f"
    if spec.kind == "range":
        return widgets.FloatRangeSlider(
            value=(float(values[0]), float(values[1])),
            min=minimum,
            max=maximum,
            step=spec.step,
            readout_format=readout,
            **common,
        )
    return widgets.FloatSlider(
        value=float(values[0]), min=minimum, max=maximum, step=spec.step, readout_format=readout, **common
    )


def _generic_widget(name: str, value: Any) -> tuple[widgets.Widget, bool]:
    """A box for a parameter of a transform the tuner knows nothing about, and whether it can be edited.

    None, lists and dicts are shown read-only (``tuner.set_params`` changes them).
    """
    common: dict[str, Any] = {
        "description": name,
        "style": _STYLE,
        "layout": widgets.Layout(**_CONTROL_LAYOUT),
    }
    if isinstance(value, (bool, np.bool_)):
        return widgets.Checkbox(value=bool(value), indent=False, description=name), True
    if isinstance(value, (int, np.integer)):
        return widgets.IntText(value=int(value), **common), True
    if isinstance(value, (float, np.floating)):
        return widgets.FloatText(value=float(value), **common), True
    if isinstance(value, str):
        return widgets.Text(value=value, continuous_update=False, **common), True
    return widgets.Text(
        value=repr(value), disabled=True, tooltip="set with tuner.set_params", **common
    ), False


class _StepControls:
    """The controls of one pipeline step: enable toggle, probability slider, one widget per parameter group."""

    def __init__(self, step: Transform) -> None:
        self.step = step
        self.name = step.name
        params = step.params
        self.is_augmentation = isinstance(step, Augmentation)
        self.specs: list[ParameterSpec] = []
        self.widgets: dict[str, widgets.Widget] = {}
        known = PARAMETER_SPECS.get(self.name)
        covered: set[str] = {"probability"} if self.is_augmentation else set()
        for spec in known or ():
            if all(name in params for name in spec.names):
                self.specs.append(spec)
                self.widgets[spec.names[0]] = _spec_widget(spec, params)
                covered.update(spec.names)
        self.generic: list[str] = [name for name in params if name not in covered]
        self.read_only: set[str] = set()
        for name in self.generic:
            self.widgets[name], editable = _generic_widget(name, params[name])
            if not editable:
                self.read_only.add(name)
        self.enabled: widgets.Checkbox | None = None
        self.probability: widgets.FloatSlider | None = None
        if self.is_augmentation:
            probability = float(params["probability"])
            # A step that starts disabled gets its class's default chance on the slider, ready to switch on.
            resting = probability if probability > 0 else self._default_probability(type(step))
            self.probability = _spec_widget(  # type: ignore[assignment]
                PROBABILITY_SPEC, {"probability": resting}, layout=_PROBABILITY_LAYOUT, style=_PROBABILITY_STYLE
            )
            self.probability.tooltip = "probability: the chance that the step is applied to an example"
            self.enabled = widgets.Checkbox(
                value=probability > 0,
                description=self.name,
                indent=False,
                layout=widgets.Layout(width=_NAME_WIDTH),
                tooltip="off: probability 0 (the step never applies)",
            )
        title: list[widgets.Widget] = (
            [self.enabled]
            if self.enabled is not None
            else [widgets.HTML(f"<b>{html.escape(self.name)}</b>", layout=widgets.Layout(width=_NAME_WIDTH))]
        )
        # The name and the chance on one row, a row per parameter under it: a narrow column.
        header = widgets.HBox(
            title + ([self.probability] if self.probability is not None else []),
            layout=widgets.Layout(align_items="center"),
        )
        self.box = widgets.VBox([header, *self.widgets.values()])
        # CSS classes for pages and browser tests: .qt-step-AddNoise, .qt-AddNoise-std, .qt-AddNoise-enabled ...
        self.box.add_class("qt-step")
        self.box.add_class(f"qt-step-{self.name}")
        named = {"enabled": self.enabled, "probability": self.probability, **self.widgets}
        for parameter, widget in named.items():
            if widget is not None:
                widget.add_class(f"qt-{self.name}-{parameter}")
        self._sync_disabled()

    @staticmethod
    def _default_probability(cls: type) -> float:
        parameter = inspect.signature(cls.__init__).parameters.get("probability")  # type: ignore[misc]
        default = None if parameter is None else parameter.default
        if isinstance(default, (int, float)) and 0.0 < float(default) <= 1.0:
            return float(default)
        return 0.5

    def all_widgets(self) -> list[widgets.Widget]:
        extra = [w for w in (self.enabled, self.probability) if w is not None]
        return extra + list(self.widgets.values())

    def _sync_disabled(self) -> None:
        active = self.enabled is None or bool(self.enabled.value)
        if self.probability is not None:
            self.probability.disabled = not active
        for name, widget in self.widgets.items():
            if name not in self.read_only:
                widget.disabled = not active

    def values(self) -> dict[str, Any]:
        """The parameters the controls show (probability 0 when the step is switched off)."""
        self._sync_disabled()
        values: dict[str, Any] = {}
        for spec in self.specs:
            widget = self.widgets[spec.names[0]]
            if spec.kind == "range":
                low, high = widget.value
                values[spec.names[0]] = _clean_float(low)
                values[spec.names[1]] = _clean_float(high)
            elif spec.kind == "float":
                values[spec.names[0]] = _clean_float(widget.value)
            elif spec.kind == "int":
                values[spec.names[0]] = int(widget.value)
            else:
                values[spec.names[0]] = widget.value
        for name in self.generic:
            if name not in self.read_only:
                values[name] = self.widgets[name].value
        if self.enabled is not None and self.probability is not None:
            values["probability"] = _clean_float(self.probability.value) if self.enabled.value else 0.0
        return values

    def show(self, step: Transform) -> None:
        """Set the controls to ``step``'s parameters (same kind of step)."""
        self.step = step  # parameters without a control (None, lists) come from here
        params = step.params
        for spec in self.specs:
            widget = self.widgets[spec.names[0]]
            values = [params[name] for name in spec.names]
            if spec.kind in ("float", "int", "range"):
                widget.min = min(widget.min, *values)
                widget.max = max(widget.max, *values)
            if spec.kind == "range":
                widget.value = (float(values[0]), float(values[1]))
            elif spec.kind == "choice" and values[0] not in widget.options:
                widget.options = [*widget.options, values[0]]
                widget.value = values[0]
            else:
                widget.value = values[0]
        for name in self.generic:
            self.widgets[name].value = repr(params[name]) if name in self.read_only else params[name]
        if self.enabled is not None and self.probability is not None:
            probability = float(params["probability"])
            self.enabled.value = probability > 0
            if probability > 0:
                self.probability.value = probability
        self._sync_disabled()
