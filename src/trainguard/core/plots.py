"""Small matplotlib figures saved as PNG artifacts of a run (Agg backend, no display)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np

from trainguard.core.run import RunDir


def _figure(figsize: tuple[float, float] = (5.0, 3.2)):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize, dpi=110)


def _png(fig) -> bytes:  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def line_plot(
    run: RunDir,
    name: str,
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    logx: bool = False,
) -> str:
    """Save a line plot of one or more series over ``x``; return its run-relative path."""
    fig, ax = _figure()
    for label, ys in series.items():
        ax.plot(list(x), list(ys), marker="o", markersize=3, label=label)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return run.write_artifact(f"{name}.png", _png(fig))


def bar_plot(
    run: RunDir,
    name: str,
    groups: Mapping[str, Mapping[str, float]],
    *,
    ylabel: str,
    title: str = "",
    hline: float | None = None,
) -> str:
    """Save a grouped bar chart ``{category: {series: value}}``; return its path."""
    cats = list(groups)
    names = sorted({k for v in groups.values() for k in v})
    fig, ax = _figure((max(5.0, 0.8 * len(cats) * max(1, len(names)) / 2 + 2), 3.2))
    width = 0.8 / max(1, len(names))
    xs = np.arange(len(cats))
    for i, s in enumerate(names):
        ax.bar(xs + i * width, [groups[c].get(s, 0.0) for c in cats], width, label=s)
    ax.set_xticks(xs + width * (len(names) - 1) / 2, cats, rotation=20, fontsize=8)
    if hline is not None:
        ax.axhline(hline, color="crimson", linestyle="--", linewidth=1)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(names) > 1:
        ax.legend(fontsize=8)
    return run.write_artifact(f"{name}.png", _png(fig))


def image_grid(
    run: RunDir,
    name: str,
    images: Sequence[np.ndarray],
    *,
    titles: Sequence[str] | None = None,
    cmap: str = "gray",
) -> str:
    """Save images (each HxW or CxHxW, values in [0, 1]) side by side; return its path."""
    n = len(images)
    fig, axes = _figure((1.6 * max(n, 1), 1.9))
    axes_list = list(np.atleast_1d(axes)) if n > 1 else [axes]
    if n > 1:
        fig.clf()
        axes_list = [fig.add_subplot(1, n, i + 1) for i in range(n)]
    for i, (ax, img) in enumerate(zip(axes_list, images, strict=False)):
        arr = np.asarray(img)
        if arr.ndim == 3:
            arr = arr[0] if arr.shape[0] == 1 else np.transpose(arr, (1, 2, 0))
        ax.imshow(np.clip(arr, 0, 1), cmap=cmap, vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    return run.write_artifact(f"{name}.png", _png(fig))
