"""The throughput plot: jobs per second against threads-pool concurrency, with the ideal line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

try:  # a development extra: without it the run still succeeds and says so
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
except ImportError:
    pyplot = None


def plot_throughput(points: list[dict[str, Any]], *, latency: float, path: Path) -> str | None:
    """Draw measured and ideal (``c / latency``) throughput to ``path``; return why not, or None."""
    if pyplot is None:
        return "matplotlib is not installed"
    concurrency = [point["concurrency"] for point in points]
    figure, axes = pyplot.subplots(figsize=(7, 4.5), dpi=120)
    ideal = [c / latency for c in concurrency]
    axes.plot(concurrency, ideal, "--", color="grey", label="ideal c / latency")
    axes.plot(concurrency, [p["rate"] for p in points], "o-", color="tab:blue", label="measured")
    _annotate_shares(axes, points)
    axes.set_xscale("log", base=2)
    axes.set_yscale("log", base=2)
    axes.set_xticks(concurrency, [str(c) for c in concurrency])
    axes.set_yticks(ideal, [f"{rate:g}" for rate in ideal])
    axes.set_ylim(ideal[0] / 1.6, ideal[-1] * 1.3)
    axes.set_xlabel("threads-pool concurrency (one worker process)")
    axes.set_ylabel("subagent jobs per second")
    axes.set_title(f"Baton subagent throughput, emulator latency {latency:g} s")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    pyplot.close(figure)
    return None


def _annotate_shares(axes: Any, points: list[dict[str, Any]]) -> None:
    """Write each point's share of the ideal under it."""
    for point in points:
        axes.annotate(
            f"{point['rate'] / point['ideal_per_s']:.0%}",
            (point["concurrency"], point["rate"]),
            textcoords="offset points",
            xytext=(0, -14),
            ha="center",
            fontsize=8,
        )
