"""Report charts as inline SVG (matplotlib, text kept as text, no pyplot global state).

Each function takes small, already-filtered polars frames and returns one ``<svg>`` element
ready to embed in HTML: no XML prolog, no external references, ids prefixed with the chart
id so several charts can share a page. Series labels, units and axis formats come from the
indicator catalogue (a fraction's axis in %, money with thousands separators).

Text from data (regions, scenarios, model names) is set as literal text (:func:`plain_label`)
and matplotlib's SVG writer escapes it (``&``, ``<``, ``>`` in text, quotes in attributes),
so the SVG can be inserted into the report's HTML as markup.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import matplotlib
import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter
from matplotlib.typing import RcKeyType

from transforms.catalogue import FISCAL, MATCHING, TARGETING, Display, display, label, lookup
from transforms.report.formats import pct
from transforms.report.names import (
    BENEFIT_STANDARD,
    COST_SHARE_GDP,
    COVERAGE,
    EXCLUSION_ERROR,
    INCLUSION_ERROR,
    NEEDS_BASED_STANDARD,
    PROJECTION,
    QUINTILE_SERIES,
    STANDARD_GAP,
)
from transforms.report.words import method_text, unit_text

EXCLUSION_COLOUR = "#1f4e79"
INCLUSION_COLOUR = "#c55a11"
NEUTRAL_COLOUR = "#7f7f7f"
THRESHOLD_COLOUR = "#b00020"
SERIES_COLOURS = ("#1f4e79", "#c55a11", "#2e7d32", "#6a3d9a", "#8c6d1f", "#00838f", "#ad1457")
STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",  # text stays text: searchable, escaped, crisp at any zoom
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.8,
    "legend.frameon": False,
    "errorbar.capsize": 2.5,
}
SUPPRESSED_LABEL = "suppressed (n < threshold)"
CHART_TITLES = {
    "errors-by-region": "Exclusion and inclusion errors by region, with 95 % confidence intervals",
    "coverage-by-quintile": "Coverage and benefit incidence by quintile of pre-transfer welfare",
    "targeting-curves": "Exclusion error by coverage and ROC curve of each PMT model",
    "regional-standards": "Benefit standard against needs-based standard, by region",
    "fiscal-projection": "Projected programme cost and its share of GDP, by scenario and year",
}
"""Each chart's accessible name: the SVG's <title> and aria-label (the report's <figcaption>
says more)."""


@contextmanager
def chart_style(chart_id: str) -> Iterator[None]:
    """The house chart style, with SVG ids salted by the chart id (deterministic output)."""
    salted: dict[RcKeyType, Any] = {"svg.hashsalt": chart_id, "svg.id": "chart"}
    with matplotlib.rc_context({**STYLE, **salted}):
        yield


def plain_label(text: object) -> str:
    """A data value as literal matplotlib text: ``$`` would otherwise start mathtext."""
    return str(text).replace("$", r"\$")


def figure_svg(fig: Figure, chart_id: str) -> str:
    """Serialise a figure to an inline ``<svg>`` element with ids unique to this chart."""
    buffer = io.StringIO()
    metadata = {"Date": None, "Creator": None, "Format": None, "Type": None}
    fig.savefig(buffer, format="svg", metadata=metadata, bbox_inches="tight", pad_inches=0.08)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML declaration and DOCTYPE
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg, count=2)
    svg = re.sub(r"<defs>\s*<style[^>]*>.*?</style>\s*</defs>", "", svg, count=1, flags=re.S)

    def prefix_ids(tag: re.Match[str]) -> str:  # inside tags only, never in label text
        text = re.sub(r'\bid="([^"]+)"', rf'id="{chart_id}-\1"', tag.group(0))
        text = text.replace('xlink:href="#', f'xlink:href="#{chart_id}-')
        return text.replace("url(#", f"url(#{chart_id}-")

    svg = re.sub(r"<[^>]+>", prefix_ids, svg)
    width = re.search(r'<svg[^>]*?\swidth="([\d.]+)pt"', svg)
    max_width = f"max-width:{width.group(1)}pt;" if width else ""
    title = CHART_TITLES.get(chart_id, chart_id)
    svg = re.sub(
        r'<svg([^>]*?)\swidth="[^"]*"\s+height="[^"]*"([^>]*)>',
        lambda tag: (
            f'<svg{tag[1]} role="img" aria-label={quoteattr(title)} '
            f'style="width:100%;height:auto;{max_width}"{tag[2]}>\n<title>{escape(title)}</title>'
        ),
        svg,
        count=1,
    )
    return svg.strip()


def largest(values: pl.Series) -> float:
    """The largest non-null value of a numeric series (0 when there is none)."""
    present = values.drop_nulls().cast(pl.Float64).to_numpy()
    return float(present.max()) if present.size else 0.0


def percent_axis(ax: Axes, axis: str = "y", decimals: int = 0) -> None:
    """Show a fraction axis as percentages."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(PercentFormatter(xmax=1.0, decimals=decimals))


def display_axis(
    ax: Axes, kind: Display, *, maximum: float = 0.0, axis: str = "y", decimals: int = 0
) -> str:
    """Format an axis for values of a display kind; returns the scale words for its label
    ('millions' for money in millions, else '')."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    if kind in ("percent", "points"):
        percent_axis(ax, axis, decimals)
    elif kind == "money":
        scale, suffix = money_scale(maximum)
        target.set_major_formatter(money_formatter(scale))
        return suffix
    elif kind == "year":
        target.set_major_locator(MaxNLocator(integer=True))
    return ""


def axis_label(unit: str, scale: str, currency: str = "") -> str:
    """A money axis label in words with its scale: 'LCU per year, millions'."""
    return f"{plain_label(unit_text(unit, currency))}{', ' + scale if scale else ''}"


def ci_errors(
    values: Sequence[float | None], lows: Sequence[float | None], highs: Sequence[float | None]
) -> np.ndarray:
    """Asymmetric error-bar lengths (2 x n) from CI bounds; missing bounds give no bar."""
    value = np.array([np.nan if v is None else v for v in values], dtype=float)
    low = np.array([np.nan if v is None else v for v in lows], dtype=float)
    high = np.array([np.nan if v is None else v for v in highs], dtype=float)
    return np.nan_to_num(np.vstack([value - low, high - value]), nan=0.0).clip(min=0.0)


def errors_by_region(regions: pl.DataFrame, *, national: dict[str, Any] | None) -> str:
    """Exclusion and inclusion error of the programme by region, with 95 % CI bars.

    ``regions`` has group_value, exclusion_error(_ci_low/_ci_high), inclusion_error(...) and
    suppressed; ``national`` (optional) the whole-population row for reference lines.
    """
    ordered = regions.sort(
        [pl.col("suppressed").fill_null(False), pl.col("exclusion_error")],
        descending=[False, True],
        nulls_last=True,
    )
    rows = ordered.to_dicts()
    n = len(rows)
    with chart_style("errors-by-region"):
        fig = Figure(figsize=(7.6, 1.3 + 0.36 * n))
        ax = fig.add_subplot()
        y = np.arange(n)
        height = 0.38
        for offset, rate, colour in (
            (-height / 2, EXCLUSION_ERROR, EXCLUSION_COLOUR),
            (height / 2, INCLUSION_ERROR, INCLUSION_COLOUR),
        ):
            values = [r[rate] for r in rows]
            errors = ci_errors(
                values, [r[f"{rate}_ci_low"] for r in rows], [r[f"{rate}_ci_high"] for r in rows]
            )
            bars = np.array([np.nan if v is None else v for v in values], dtype=float)
            ax.barh(
                y + offset,
                np.nan_to_num(bars),
                height=height,
                color=colour,
                label=plain_label(label(TARGETING, rate)),
                xerr=errors,
                ecolor="#333333",
                error_kw={"elinewidth": 0.8},
            )
            if national and national.get(rate) is not None:
                ax.axvline(national[rate], color=colour, linestyle="--", linewidth=1.0, alpha=0.8)
        for index, row in enumerate(rows):
            if row.get("suppressed"):
                ax.text(
                    0.01, index, SUPPRESSED_LABEL, va="center", fontsize=8.5, color=NEUTRAL_COLOUR
                )
        ax.set_yticks(y, [plain_label(r["group_value"]) for r in rows])
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        display_axis(ax, display(TARGETING, EXCLUSION_ERROR), axis="x")
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("share (bars: 95 % CI; dashed lines: national rate)")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=1)
        return figure_svg(fig, "errors-by-region")


def quintile_order(values: Sequence[str]) -> list[str]:
    """Quintile labels in numeric order ('1' .. '5'; other labels after, alphabetically)."""

    def key(value: str) -> tuple[int, float, str]:
        digits = re.sub(r"\D", "", value)
        return (0, float(digits), value) if digits else (1, 0.0, value)

    return sorted(values, key=key)


def coverage_by_quintile(matching: pl.DataFrame) -> str:
    """Coverage and benefit incidence by pre-transfer welfare quintile, with 95 % CI bars.

    ``matching`` holds matching_indicators rows of group_type 'quintile' and the indicators
    of ``names.QUINTILE_SERIES`` (coverage, benefit incidence: value, ci_low, ci_high,
    suppressed).
    """
    quintiles = quintile_order(matching["group_value"].unique().to_list())
    published = set(matching["indicator"])
    series = [
        (name, plain_label(label(MATCHING, name)), colour)
        for name, colour in zip(QUINTILE_SERIES, (EXCLUSION_COLOUR, INCLUSION_COLOUR), strict=True)
        if name in published
    ]
    with chart_style("coverage-by-quintile"):
        fig = Figure(figsize=(7.6, 3.6))
        ax = fig.add_subplot()
        x = np.arange(len(quintiles))
        width = 0.8 / len(series)
        for index, (name, series_label, colour) in enumerate(series):
            by_group = {
                r["group_value"]: r for r in matching.filter(pl.col("indicator") == name).to_dicts()
            }
            rows = [by_group.get(q, {}) for q in quintiles]
            values = [r.get("value") for r in rows]
            errors = ci_errors(
                values, [r.get("ci_low") for r in rows], [r.get("ci_high") for r in rows]
            )
            offset = (index - (len(series) - 1) / 2) * width
            heights = np.nan_to_num(
                np.array([np.nan if v is None else v for v in values], dtype=float)
            )
            ax.bar(
                x + offset,
                heights,
                width=width * 0.95,
                color=colour,
                label=series_label,
                yerr=errors,
                ecolor="#333333",
                error_kw={"elinewidth": 0.8},
            )
            for q_index, row in enumerate(rows):
                if row.get("suppressed") or (row and row.get("value") is None):
                    ax.text(
                        x[q_index] + offset,
                        0.01,
                        "suppressed",
                        rotation=90,
                        ha="center",
                        va="bottom",
                        fontsize=8,
                        color=NEUTRAL_COLOUR,
                    )
        benefit_incidence = QUINTILE_SERIES[1]
        if any(name == benefit_incidence for name, _, _ in series):
            ax.axhline(1 / max(len(quintiles), 1), color=NEUTRAL_COLOUR, linestyle=":", linewidth=1)
            ax.annotate(
                "equal share",
                xy=(len(quintiles) - 0.5, 1 / max(len(quintiles), 1)),
                xytext=(0, 3),
                textcoords="offset points",
                ha="right",
                fontsize=8,
                color=NEUTRAL_COLOUR,
            )
        labels = [f"Q{plain_label(q)}" if q.isdigit() else plain_label(q) for q in quintiles]
        if labels and quintiles[0].isdigit():
            labels[0] += "\n(poorest)"
            labels[-1] += "\n(richest)"
        ax.set_xticks(x, labels)
        ax.set_ylim(bottom=0)
        display_axis(ax, display(MATCHING, QUINTILE_SERIES[0]))
        ax.grid(axis="x", visible=False)
        ax.set_xlabel("quintile of pre-transfer welfare per person")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
        return figure_svg(fig, "coverage-by-quintile")


def method_label(method: str) -> str:
    """'pmt:ols' -> 'PMT (OLS)'; 'program' -> 'programme (actual receipt)'."""
    return method_text(method)


def targeting_curves(curves: pl.DataFrame) -> str:
    """Exclusion error against coverage and the ROC curve, one line per model.

    ``curves`` holds targeting_curves rows against one line; each programme (method
    'program') is one point, labelled with its name.
    """
    models = sorted(m for m in curves["method"].unique().to_list() if m != "program")
    programme = curves.filter(pl.col("method") == "program").to_dicts()
    with chart_style("targeting-curves"):
        fig = Figure(figsize=(8.6, 3.9))
        left, right = fig.subplots(1, 2)
        for index, method in enumerate(models):
            line = curves.filter(pl.col("method") == method).sort("coverage")
            colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
            left.plot(
                line["coverage"],
                line["exclusion_error"],
                color=colour,
                linewidth=1.4,
                label=plain_label(method_label(method)),
            )
            roc = line.sort("false_positive_rate")
            right.plot(
                roc["false_positive_rate"], roc["true_positive_rate"], color=colour, linewidth=1.4
            )
        for index, point in enumerate(programme):
            name = plain_label(point.get("programme") or "programme")
            left.plot(
                [point["coverage"]],
                [point["exclusion_error"]],
                marker="D",
                markersize=7,
                color="black",
                linestyle="none",
                label="programme (actual)" if index == 0 else None,
            )
            left.annotate(
                name,
                xy=(point["coverage"], point["exclusion_error"]),
                xytext=(7, 4),
                textcoords="offset points",
                fontsize=8.5,
            )
            if point.get("false_positive_rate") is not None:
                right.plot(
                    [point["false_positive_rate"]],
                    [point["true_positive_rate"]],
                    marker="D",
                    markersize=7,
                    color="black",
                    linestyle="none",
                )
                right.annotate(
                    name,
                    xy=(point["false_positive_rate"], point["true_positive_rate"]),
                    xytext=(7, -10),
                    textcoords="offset points",
                    fontsize=8.5,
                )
        right.plot([0, 1], [0, 1], color=NEUTRAL_COLOUR, linestyle=":", linewidth=1)
        left.set_title("Exclusion error by coverage")
        left.set_xlabel(plain_label(label(TARGETING, COVERAGE)))
        left.set_ylabel(plain_label(label(TARGETING, EXCLUSION_ERROR)))
        right.set_title("ROC (out of sample)")
        right.set_xlabel("share of non-poor selected")
        right.set_ylabel("share of poor selected")
        for ax in (left, right):
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
        display_axis(left, display(TARGETING, COVERAGE), axis="x")
        display_axis(left, display(TARGETING, EXCLUSION_ERROR), axis="y")
        percent_axis(right, "x")  # ROC rates: fractions of targeting_curves
        percent_axis(right, "y")
        handles, labels = left.get_legend_handles_labels()
        fig.legend(
            handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(labels), 5)
        )
        fig.tight_layout()
        return figure_svg(fig, "targeting-curves")


def money_formatter(scale: float) -> FuncFormatter:
    """Tick labels for money divided by ``scale``, with thousands separators."""
    return FuncFormatter(
        lambda value, _pos: f"{value / scale:,.0f}" if scale > 1 else f"{value:,.0f}"
    )


def money_scale(maximum: float) -> tuple[float, str]:
    """A readable scale for a money axis: (divisor, suffix for the axis label)."""
    for divisor, suffix in ((1e9, "billions"), (1e6, "millions"), (1e3, "thousands")):
        if maximum >= 10 * divisor:
            return divisor, suffix
    return 1.0, ""


def regional_standards(standards: pl.DataFrame, *, currency: str = "") -> str:
    """Each region's benefit standard against its needs-based standard, gap as a label.

    ``standards`` holds matching_indicators rows of group_type 'region' with the indicators of
    ``names.STANDARDS`` (benefit standard, needs-based standard, optionally standard gap).
    """
    wide = {(r["group_value"], r["indicator"]): r for r in standards.to_dicts()}
    regions = sorted({r for r, _ in wide})
    gap = {r: (wide.get((r, STANDARD_GAP)) or {}).get("value") for r in regions}
    regions.sort(key=lambda r: (gap[r] is None, gap[r] if gap[r] is not None else 0.0, r))
    gap_kind = display(MATCHING, STANDARD_GAP)
    n = len(regions)
    with chart_style("regional-standards"):
        fig = Figure(figsize=(7.6, 1.3 + 0.36 * n))
        ax = fig.add_subplot()
        y = np.arange(n)
        height = 0.38
        maximum = 0.0
        for offset, name, colour in (
            (-height / 2, BENEFIT_STANDARD, EXCLUSION_COLOUR),
            (height / 2, NEEDS_BASED_STANDARD, NEUTRAL_COLOUR),
        ):
            values = [(wide.get((r, name)) or {}).get("value") for r in regions]
            bars = np.nan_to_num(
                np.array([np.nan if v is None else v for v in values], dtype=float)
            )
            maximum = max(maximum, float(bars.max()) if n else 0.0)
            series_label = plain_label(label(MATCHING, name))
            ax.barh(y + offset, bars, height=height, color=colour, label=series_label)
        for index, region in enumerate(regions):
            value = gap[region]
            text = "gap suppressed" if value is None else gap_text(gap_kind, value)
            ax.annotate(
                text,
                xy=(1.0, index),
                xycoords=("axes fraction", "data"),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8.5,
                color=THRESHOLD_COLOUR if value is not None and value < 0 else "#333333",
            )
        scale = display_axis(ax, display(MATCHING, BENEFIT_STANDARD), maximum=maximum, axis="x")
        ax.set_yticks(y, [plain_label(r) for r in regions])
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        unit = lookup(MATCHING, BENEFIT_STANDARD).unit
        ax.set_xlabel(f"standard ({axis_label(unit, scale, currency)}); labels: standard gap")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
        return figure_svg(fig, "regional-standards")


def gap_text(kind: Display, value: float) -> str:
    """A standard gap as a signed label: '+2.6 %' for a percent display, else '+0.03'."""
    return pct(value, signed=True) if kind == "percent" else f"{value:+.2f}"


def fiscal_projection(
    fiscal: pl.DataFrame,
    *,
    threshold: float | None,
    crossings: dict[str, int | None] | None = None,
    currency: str = "",
) -> str:
    """Projected programme cost and its share of GDP by year, one line per scenario.

    ``fiscal`` holds fiscal_indicators rows of the indicators of ``names.PROJECTION``
    (projected cost, cost share of GDP); ``threshold`` is the sustainability threshold
    (share of GDP) or None; ``crossings`` the first year each scenario's share exceeds it
    (ringed in red).
    """
    published = set(fiscal["indicator"])
    panels = [name for name in PROJECTION if name in published]
    scenarios = sorted(fiscal["scenario"].unique().to_list())
    with chart_style("fiscal-projection"):
        fig = Figure(figsize=(8.6 if len(panels) == 2 else 5.2, 3.6))
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, name in zip(axes, panels, strict=True):
            rows = fiscal.filter(pl.col("indicator") == name)
            for index, scenario in enumerate(scenarios):
                line = rows.filter(pl.col("scenario") == scenario).sort("year")
                if line.height == 0:
                    continue
                ax.plot(
                    line["year"],
                    line["value"],
                    color=SERIES_COLOURS[index % len(SERIES_COLOURS)],
                    linewidth=1.6,
                    marker="o" if line.height < 12 else None,
                    markersize=3,
                    label=plain_label(scenario),
                )
            entry = lookup(FISCAL, name)
            ax.set_title(plain_label(entry.label))
            scale = display_axis(ax, entry.display, maximum=largest(rows["value"]), decimals=2)
            if entry.display == "money":
                ax.set_ylabel(axis_label(entry.unit, scale, currency))
            if name == COST_SHARE_GDP:
                threshold_line(ax, rows, threshold, crossings or {})
            else:
                ax.set_ylim(bottom=0)
            ax.set_xlabel("year")
            ax.xaxis.get_major_locator().set_params(integer=True)
        handles, labels = axes[0].get_legend_handles_labels()
        if len(labels) > 1:
            fig.legend(
                handles,
                labels,
                loc="lower center",
                bbox_to_anchor=(0.5, 1.0),
                ncol=min(len(labels), 5),
                title="scenario",
            )
        fig.tight_layout()
        return figure_svg(fig, "fiscal-projection")


def threshold_line(
    ax: Axes, shares: pl.DataFrame, threshold: float | None, crossings: dict[str, int | None]
) -> None:
    """On the cost-share panel: the sustainability threshold dashed, first crossings ringed."""
    if threshold is None:
        ax.set_ylim(bottom=0)
        return
    ax.axhline(threshold, color=THRESHOLD_COLOUR, linestyle="--", linewidth=1.2)
    ax.annotate(
        f"sustainability threshold: {pct(threshold, 2)}",  # the caption names it in full
        xy=(0.01, threshold),
        xycoords=("axes fraction", "data"),
        xytext=(0, 3),
        textcoords="offset points",
        fontsize=8,
        color=THRESHOLD_COLOUR,
    )
    ax.set_ylim(0, max(largest(shares["value"]), threshold) * 1.15)
    for scenario, year in crossings.items():
        if year is None:
            continue
        point = shares.filter((pl.col("scenario") == scenario) & (pl.col("year") == year))
        if point.height:
            ax.plot(
                [year],
                [point["value"][0]],
                marker="o",
                markersize=9,
                markerfacecolor="none",
                markeredgecolor=THRESHOLD_COLOUR,
                markeredgewidth=1.4,
            )
