"""Where a plot draws: into the axes the caller passes (``ax=``), or into a new figure.

Every ``plot`` method of qusi_lab takes ``ax=`` (one matplotlib Axes, or a sequence of them when the view has
several panels) and returns what it drew into, so a figure can be composed as with pandas or lightkurve.

Example
-------
>>> import matplotlib.pyplot as plt
>>> figure, axes = plt.subplots(1, 2)
>>> panel_axes(axes, 2, figsize=(8, 3), what="this view")[1] == list(axes)
True
"""

from __future__ import annotations

from typing import Any

__all__ = ["panel_axes"]


def panel_axes(ax: Any, count: int, *, figsize: tuple[float, float], what: str) -> tuple[Any, list[Any]]:
    """``(figure, [axes...])`` for a view of ``count`` panels: the caller's ``ax`` or a new figure.

    ``ax`` may be one Axes (when ``count`` is 1) or a sequence (list, tuple, numpy array) of ``count`` Axes;
    another number raises a ``ValueError`` that says how many ``what`` needs, rather than drawing part of it.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        figure, grid = plt.subplots(1, count, figsize=figsize, constrained_layout=True, squeeze=False)
        return figure, list(grid[0])
    if hasattr(ax, "plot") and hasattr(ax, "figure"):  # one Axes
        axes = [ax]
    else:
        try:
            axes = list(getattr(ax, "flat", ax))
        except TypeError:
            raise TypeError(f"ax must be a matplotlib Axes or a sequence of them, not {type(ax).__name__}") from None
    if len(axes) != count:
        raise ValueError(
            f"{what} draws {count} panel{'s' if count != 1 else ''}; pass ax= as "
            f"{'one Axes' if count == 1 else f'a sequence of {count} Axes'}, not {len(axes)}"
        )
    return axes[0].figure, axes
