"""Plots of the forensic battery, each written as PNG and SVG: the Klimek fingerprint, the integer-percent histograms
at 0.1-point bins, digit distributions against their nulls, and residuals against history.

Figures are built with matplotlib's object API on the Agg canvas (no pyplot, so no global state and no display
needed) and written atomically: a reader never sees half a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .._io import atomic_path
from .digits import BENFORD_SECOND

__all__ = ["save_figure", "plot_fingerprint", "plot_integer_percent", "plot_digits", "plot_residuals"]


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, folder: Path, stem: str) -> list[str]:
    """Write ``folder/stem.png`` and ``folder/stem.svg``; returns the two file names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for fmt, options in (("png", {"dpi": 120}), ("svg", {})):
        target = folder / f"{stem}.{fmt}"
        with atomic_path(target) as tmp:
            figure.savefig(tmp, format=fmt, **options)
        names.append(target.name)
    return names


def plot_fingerprint(observed: np.ndarray, fitted: np.ndarray | None, folder: Path, *, leader: str,
                     stem: str = "fingerprint") -> list[str]:
    """Heat maps of units per 1-point cell of (turnout, leader share): the data and, when given, Klimek's fit."""
    panels = [("Observed", observed)] + ([("Klimek model, fitted", fitted)] if fitted is not None else [])
    figure = _figure(4.2 * len(panels) + 0.8, 4.2)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    top = float(np.quantile(observed[observed > 0], 0.995)) if np.any(observed > 0) else 1.0
    for ax, (title, cells) in zip(axes, panels):
        image = ax.imshow(cells.T, origin="lower", extent=(0, 100, 0, 100), cmap="viridis", vmin=0, vmax=top,
                          interpolation="nearest", aspect="equal")
        ax.set_title(title)
        ax.set_xlabel("Turnout (%)")
        ax.set_ylabel(f"{leader} (%)")
    figure.colorbar(image, ax=list(axes), label="Units per 1-point cell", shrink=0.85)
    return save_figure(figure, folder, stem)


def plot_integer_percent(turnout: np.ndarray | None, share: np.ndarray | None, folder: Path, *, leader: str,
                         stem: str = "integer_percent") -> list[str]:
    """Histograms of turnout and leader share in 0.1-point bins (the comb of integer peaks), one panel each.
    Callers pass percentages whose numerators carry U(−½, ½) noise, as Kobak et al. (Significance 2018) do, so that
    peaks of small-denominator fractions are smeared and only protocol values stay sharp."""
    panels = [(label, values) for label, values in (("Turnout (%)", turnout), (f"{leader} (%)", share))
              if values is not None]
    figure = _figure(9, 2.6 * len(panels))
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    edges = np.arange(-0.05, 100.05 + 1e-9, 0.1)
    centres = (edges[:-1] + edges[1:]) / 2
    for ax, (label, values) in zip(axes, panels):
        counts, _ = np.histogram(values, bins=edges)
        ax.plot(centres, counts, linewidth=0.7)
        ax.set_xlim(0, 100)
        ax.set_xticks(np.arange(0, 101, 5))
        ax.grid(axis="x", linewidth=0.3)
        ax.set_xlabel(label)
        ax.set_ylabel("Units per 0.1-point bin")
    return save_figure(figure, folder, stem)


def plot_digits(series: Sequence[tuple[str, np.ndarray]], folder: Path, *, kind: str, stem: str) -> list[str]:
    """Observed digit shares, one line per ``(scope, digit counts)``, against the null drawn thick and dashed:
    second-digit Benford for ``kind="second"``, uniform for ``kind="last"``. One panel, so that a departure stands
    out against the other columns as well as against the null."""
    null = BENFORD_SECOND if kind == "second" else np.full(10, 0.1)
    figure = _figure(7.5, 4.2)
    ax = figure.subplots()
    ax.plot(np.arange(10), null, "--", color="black", linewidth=2.2, label="null", zorder=3)
    for scope, counts in series:
        counts = np.asarray(counts, dtype=np.float64)
        total = counts.sum()
        if total:
            ax.plot(np.arange(10), counts / total, "o-", markersize=3, linewidth=1, label=f"{scope} (n={int(total):,})")
    ax.set_xticks(np.arange(10))
    ax.set_xlabel(f"{'Second' if kind == 'second' else 'Last'} digit")
    ax.set_ylabel("Share of counts")
    ax.legend(fontsize=7, ncol=2)
    return save_figure(figure, folder, stem)


def plot_residuals(previous_share: np.ndarray, z: np.ndarray, flagged: np.ndarray, folder: Path, *, what: str,
                   stem: str) -> list[str]:
    """Standardised residuals against the previous share (flagged units highlighted), and their histogram
    against the standard normal."""
    figure = _figure(9, 3.4)
    left, right = figure.subplots(1, 2)
    left.scatter(previous_share[~flagged], z[~flagged], s=2, alpha=0.4, color="#4c72b0", rasterized=True)
    left.scatter(previous_share[flagged], z[flagged], s=6, color="#c44e52", label="flagged (BH)", rasterized=True)
    left.axhline(0, color="black", linewidth=0.5)
    left.set_xlabel("Previous election (share)")
    left.set_ylabel("Standardised residual")
    left.set_title(what, fontsize=9)
    if flagged.any():
        left.legend(fontsize=7)
    clipped = np.clip(z, -8, 8)
    right.hist(clipped, bins=80, range=(-8, 8), density=True, color="#4c72b0")
    grid = np.linspace(-8, 8, 400)
    right.plot(grid, np.exp(-grid**2 / 2) / np.sqrt(2 * np.pi), color="#dd8452", label="N(0, 1)")
    right.set_xlabel("Standardised residual (clipped to ±8)")
    right.legend(fontsize=7)
    return save_figure(figure, folder, stem)
