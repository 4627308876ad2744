"""The report's charts: ReportData series -> inline SVG strings, one per chart.

    charts = render_charts(data)      # [Chart(id="chart-success", title=..., svg="<svg ...")]

Why matplotlib drawing SVG, rather than plotly with its JS inlined:
- *small*: an SVG line chart of a few hundred points is tens of kilobytes; plotly.js alone is
  about 3.5 MB in every report.
- *offline and safe*: the charts are plain markup in the HTML, no script runs at all, so the
  file opens anywhere (a mail attachment, a CI artifact viewer that blocks scripts).
- *readable printed*: vectors print sharp at any size and need no browser to lay them out;
  text stays text (`svg.fonttype = none`) so it is searchable and small.
- well kept, and already a dependency of most Python data tooling; we use its object API
  (`Figure`, no pyplot), so no global state and no GUI backend is touched.
What we give up is interactivity (hover, zoom); the numbers are in the table and summary.json.

Every chart shares one time axis: lab seconds since the variant's load start, with the fault
window shaded and every journal event marked (probes that passed as ticks along the bottom,
everything else as a dashed line, labelled in the per-variant charts).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import matplotlib

matplotlib.use("Agg")  # never a GUI backend; a no-op if one was already chosen by the caller

from matplotlib import rc_context  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter  # noqa: E402

from edgelab.report.model import EventMark, ReportData, VariantSeries  # noqa: E402


@dataclass(frozen=True)
class Chart:
    id: str
    """DOM id of the chart's <figure>; tests look for every one."""
    title: str
    caption: str
    svg: str


PATH_COLORS = {"edge-a": "#1f77b4", "edge-b": "#ff7f0e", "origin-direct": "#d62728"}
VARIANT_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
FAULT_SHADE = "#f4c7c3"
EVENT_COLOR = "#555555"

STYLE: Any = {  # matplotlib types rcParams keys as Literals
    "svg.fonttype": "none",  # text stays <text>: small, searchable, crisp in print
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e5e5",
    "grid.linewidth": 0.6,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "lines.linewidth": 1.3,
}

CHART_IDS = (
    "chart-success",
    "chart-latency",
    "chart-rps-by-path",
    "chart-origin-load",
    "chart-cache-hit",
    "chart-attacks",
    "chart-artifacts",
)
"""Every chart a report has, in order, whether or not the run had data for it."""

WIDTH_IN = 9.0
LABELLED = ("action", "probe", "error", "interrupted", "steady-state")
"""Journal events named on the charts (the others are lines only: rollbacks come in bursts)."""
LABEL_CHARS = 28
LABEL_GAP = 0.02
"""A label closer than this share of the axis to the previous one is left out (lines stay)."""
PRELOAD_SHARE = 0.15
"""The axis starts before the load (at the first journal event: lab up, steady-state probes) by
at most this share of its length, so a slow lab start does not squash the run."""
ROW_IN = 1.6
"""Height of one variant's panel in the per-variant charts."""
LOG_SCALE_SPAN = 20.0
"""Latency gets a log axis when its largest value is more than this many times its smallest."""


def render_charts(data: ReportData) -> list[Chart]:
    """All the charts of the report, as inline SVG."""
    with rc_context(STYLE):
        return _render(data)


def _render(data: ReportData) -> list[Chart]:
    series = [data.series[n] for n in data.variant_names]
    xlim = _xlim(series)
    xlabel = _xlabel(data.summary.run.compression)
    charts = [
        Chart(
            "chart-success",
            "Users' requests that succeeded",
            "Share of users' requests (final attempts, legitimate traffic) answered 200-399, per "
            "second. The shaded band is the fault window.",
            _svg(_success_figure(series, xlim, xlabel), "chart-success"),
        )
    ]
    for chart_id, title, caption, draw in PER_VARIANT:
        fig = _per_variant_figure(series, xlim, xlabel, draw)
        charts.append(Chart(chart_id, title, caption, _svg(fig, chart_id)))
    return charts


# --- drawing helpers ------------------------------------------------------------------------


def _xlim(series: Sequence[VariantSeries]) -> tuple[float, float]:
    hi = 1.0
    for s in series:
        for d in (s.success, s.origin_rps, s.cache_hit, s.attacks):
            if d:
                hi = max(hi, max(d) + 1)
        for path in s.rps_by_path.values():
            if path:
                hi = max(hi, max(path) + 1)
        if s.events:
            hi = max(hi, max(e.t for e in s.events))
        if s.window:
            hi = max(hi, s.window[1])
    first = min((e.t for s in series for e in s.events), default=0.0)
    return (min(0.0, max(first, -PRELOAD_SHARE * hi)), hi)


def _xy(d: Mapping[int, float]) -> tuple[list[float], list[float]]:
    """Bin -> value as points at the middle of each second."""
    keys = sorted(d)
    return [k + 0.5 for k in keys], [d[k] for k in keys]


def _mark(ax: Axes, s: VariantSeries, *, labels: bool) -> None:
    placed: list[float] = []
    lo, hi = ax.get_xlim()  # set by the caller before marking
    gap = LABEL_GAP * (hi - lo)
    if s.window is not None:
        ax.axvspan(s.window[0], s.window[1], color=FAULT_SHADE, alpha=0.55, lw=0, zorder=0)
    for e in s.events:
        if e.type in ("fault-start", "fault-end"):
            ax.axvline(e.t, color="#c0392b", lw=0.8, zorder=1)
        elif e.type == "probe" and e.status == "ok":
            ax.plot(
                [e.t],
                [0],
                marker="|",
                color=EVENT_COLOR,
                ms=5,
                clip_on=False,
                zorder=3,
                transform=ax.get_xaxis_transform(),  # y in axes fraction: the bottom edge
            )
        else:
            color = "#c0392b" if e.status in ("failed", "deviated") else EVENT_COLOR
            ax.axvline(e.t, color=color, lw=0.7, ls="--", zorder=1)
            if labels and e.type in LABELLED and all(abs(e.t - t) > gap for t in placed):
                placed.append(e.t)
                text = e.name or e.type
                note = ax.annotate(
                    text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…",
                    (e.t, 1.0),
                    xycoords=("data", "axes fraction"),
                    rotation=90,
                    va="top",
                    ha="right",
                    fontsize=6,
                    color=color,
                    annotation_clip=True,
                    clip_on=True,  # a long name stops at the panel's edge
                    zorder=5,  # above bars and lines
                )
                note.set_in_layout(False)


def _margins(fig: Figure, height_in: float, rows: int) -> None:
    """Fixed margins in inches. Matplotlib's constrained layout would find them itself, but it
    doubles the time to draw, and every chart here has the same kind of labels."""
    top_in, bottom_in, gap_in = 0.3, 0.45, 0.42
    axes_in = (height_in - top_in - bottom_in - gap_in * (rows - 1)) / rows
    fig.subplots_adjust(
        left=0.75 / WIDTH_IN,
        right=1 - 0.15 / WIDTH_IN,
        top=1 - top_in / height_in,
        bottom=bottom_in / height_in,
        hspace=gap_in / axes_in,
    )


def _empty(ax: Axes, what: str) -> None:
    ax.set_yticks([])
    ax.text(
        0.5,
        0.5,
        f"no {what} in this run",
        transform=ax.transAxes,
        ha="center",
        va="center",
        color="#888888",
    )


def _xlabel(compression: float) -> str:
    text = "lab seconds since load start"
    return text if compression == 1 else f"{text} (1 lab s stands for {compression:g} real s)"


def _success_figure(
    series: Sequence[VariantSeries], xlim: tuple[float, float], xlabel: str
) -> Figure:
    fig = Figure(figsize=(WIDTH_IN, 2.8))
    _margins(fig, 2.8, rows=1)
    ax = fig.add_subplot()
    shaded: set[tuple[float, float]] = set()
    events: dict[tuple[float, str, str], EventMark] = {}
    for s in series:
        if s.window is not None and s.window not in shaded:
            shaded.add(s.window)
            _mark(ax, replace(s, events=()), labels=False)
        for e in s.events:  # every variant's events, once where they coincide
            events.setdefault((round(e.t, 1), e.type, e.status), e)
    if series:
        _mark(ax, replace(series[0], window=None, events=tuple(events.values())), labels=False)
    for i, s in enumerate(series):
        x, y = _xy(s.success)
        ax.plot(x, y, label=s.name, color=VARIANT_COLORS[i % len(VARIANT_COLORS)])
    if not any(s.success for s in series):
        _empty(ax, "requests")
    ax.set_ylim(-0.02, 1.05)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlim(*xlim)
    ax.set_xlabel(xlabel)
    ax.legend(loc="lower left", ncols=min(len(series), 5) or 1)
    return fig


Draw = Callable[[Axes, VariantSeries], bool]
"""Draws one variant's panel; returns False when the run has no data for it."""


def _per_variant_figure(
    series: Sequence[VariantSeries], xlim: tuple[float, float], xlabel: str, draw: Draw
) -> Figure:
    n = max(1, len(series))
    height = 0.55 + ROW_IN * n
    fig = Figure(figsize=(WIDTH_IN, height))
    _margins(fig, height, rows=n)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    for ax, s in zip(axes, series, strict=False):
        ax.set_xlim(*xlim)
        _mark(ax, s, labels=True)
        if not draw(ax, s):
            _empty(ax, "data")
        ax.set_title(s.name, loc="left", fontweight="bold")
        ax.set_xlim(*xlim)
        if ax.get_legend_handles_labels()[0]:  # above the panel, clear of the lines
            ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=4, borderaxespad=0.2)
    axes[-1].set_xlabel(xlabel)
    return fig


def _latency(ax: Axes, s: VariantSeries) -> bool:
    if not s.latency:
        return False
    values: list[float] = []
    for q, style in (("p50_ms", "-"), ("p95_ms", "--"), ("p99_ms", ":")):
        pts = {b: getattr(lat, q) for b, lat in s.latency.items() if getattr(lat, q) is not None}
        x, y = _xy(pts)
        values += y
        ax.plot(x, y, ls=style, color="#333333", label=q.removesuffix("_ms"))
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > LOG_SCALE_SPAN:
        ax.set_yscale("log")  # a timeout's seconds next to a cache hit's milliseconds
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:g}")
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(bottom=0)
    ax.set_ylabel("ms")
    return True


def _rps(ax: Axes, s: VariantSeries) -> bool:
    if not s.rps_by_path:
        return False
    for path, counts in s.rps_by_path.items():
        x, y = _xy({b: float(c) for b, c in counts.items()})
        ax.plot(x, y, label=path, color=PATH_COLORS.get(path, "#7f7f7f"))
    ax.set_ylabel("requests/s")
    ax.set_ylim(bottom=0)
    return True


def _origin(ax: Axes, s: VariantSeries) -> bool:
    if not s.origin_rps:
        return False
    x, y = _xy(s.origin_rps)
    ax.plot(x, y, color="#d62728", label="asked of origin")
    if s.origin_shed_rps:
        x, y = _xy(s.origin_shed_rps)
        ax.fill_between(x, y, color="#d62728", alpha=0.25, lw=0, label="shed (503)")
    if s.capacity_rps is not None:
        ax.axhline(s.capacity_rps, color="#333333", ls="--", lw=1, label="capacity")
    ax.set_ylabel("requests/s")
    ax.set_ylim(bottom=0)
    return True


def _cache(ax: Axes, s: VariantSeries) -> bool:
    if not s.cache_hit:
        return False
    x, y = _xy(s.cache_hit)
    ax.plot(x, y, color="#2ca02c", label="hit ratio")
    ax.set_ylim(-0.02, 1.05)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    return True


def _attacks(ax: Axes, s: VariantSeries) -> bool:
    if s.attack_source == "none":
        return False
    x, y = _xy(s.attacks)
    label = "at origin" if s.attack_source == "origin-metric" else "sent origin-direct"
    ax.bar(x, y, width=0.9, color="#8c564b", label=label)
    ax.set_ylabel("attacks/s")
    ax.set_ylim(bottom=0)
    return True


def _artifacts(ax: Axes, s: VariantSeries) -> bool:
    if not s.artifact_versions:
        return False
    for i, (key, points) in enumerate(s.artifact_versions.items()):
        ax.step(
            [t for t, _ in points],
            [v for _, v in points],
            where="post",
            label=key,
            color=VARIANT_COLORS[i % len(VARIANT_COLORS)],
            alpha=0.85,
        )
    ax.set_ylabel("version")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return True


PER_VARIANT: tuple[tuple[str, str, str, Draw], ...] = (
    (
        "chart-latency",
        "Latency users saw",
        "p50, p95 and p99 of users' final attempts per second (log scale when they span a lot).",
        _latency,
    ),
    (
        "chart-rps-by-path",
        "Requests per second by path taken",
        "Attempts per second through CDN A's edge, CDN B's edge, or straight to the origin: a "
        "bypass shows as traffic moving from one line to another.",
        _rps,
    ),
    (
        "chart-origin-load",
        "Origin load against its capacity",
        "Requests per second the origin was asked to serve, the part it shed with 503, and its "
        "capacity (workers / mean service time).",
        _origin,
    ),
    (
        "chart-cache-hit",
        "Cache hit ratio",
        "Edge answers from cache / (from cache + fetched from origin), per second.",
        _cache,
    ),
    (
        "chart-attacks",
        "Attack requests reaching the origin",
        "Requests carrying the attack marker that the origin received per second (or, without "
        "the origin's counter, attack attempts sent straight to it).",
        _attacks,
    ),
    (
        "chart-artifacts",
        "Applied artifact version per POP",
        "The version of each pushed artifact each POP runs: propagation shows as steps at "
        "different times, flapping as steps back and forth.",
        _artifacts,
    ),
)

_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_SIZE = re.compile(r'<svg([^>]*?)\swidth="[^"]*"\s+height="[^"]*"')


def _svg(fig: Figure, chart_id: str) -> str:
    """The figure as an <svg> element to inline: no XML prologue, scales to its container.

    `svg.hashsalt` is the chart id so clip-path ids differ between the charts of one page
    (the same id in two inline SVGs would make the browser clip with the wrong one).
    """
    buf = io.StringIO()
    with rc_context({"svg.hashsalt": chart_id}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = _METADATA.sub("", _XML_PROLOGUE.sub("", buf.getvalue(), count=1), count=1)
    return _SIZE.sub(r'<svg\1 width="100%"', text, count=1).replace(
        "<svg", f'<svg role="img" aria-labelledby="{chart_id}-title"', 1
    )
