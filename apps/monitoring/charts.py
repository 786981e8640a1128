"""Charts as inline SVG, rendered on the server (no chart library, nothing downloaded)."""

from collections.abc import Sequence
from datetime import datetime

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c")


def _points(
    values: Sequence[float | None], width: float, height: float, top: float, pad: float
) -> list[list[str]]:
    """Runs of "x,y" points; a None value breaks the line (no data in that slot)."""
    count = len(values)
    step = (width - 2 * pad) / max(count - 1, 1)
    runs: list[list[str]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        x = pad + index * step
        y = height - pad - (value / top) * (height - 2 * pad) if top else height - pad
        runs[-1].append(f"{x:.1f},{y:.1f}")
    return [run for run in runs if run]


def sparkline(values: Sequence[float | None], *, width: int = 120, height: int = 24, color: str = PALETTE[0]):
    values = list(values)
    present = [v for v in values if v is not None]
    if not present:
        return format_html(
            '<svg class="spark" width="{}" height="{}" aria-hidden="true"></svg>', width, height
        )
    top = max(present) or 1.0
    lines = []
    for run in _points(values, width, height, top, 2):
        if len(run) == 1:
            x, y = run[0].split(",")
            lines.append(f'<circle cx="{x}" cy="{y}" r="1.5" fill="{color}"/>')
        else:
            lines.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{" ".join(run)}"/>'
            )
    return mark_safe(  # noqa: S308 (numbers and our own colours only)
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="trend">{"".join(lines)}</svg>'
    )


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.2g}"


def line_chart(
    series: Sequence[tuple[str, Sequence[float | None]]],
    times: Sequence[datetime],
    *,
    unit: str = "",
    width: int = 640,
    height: int = 160,
    bars: bool = False,
) -> SafeString:
    """One chart with a line (or bars) per series, a max label and start/end times."""
    pad = 24
    present = [v for _, values in series for v in values if v is not None]
    top = max(present) if present else 0.0
    top = top * 1.1 or 1.0
    parts = [
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#999"/>',
        f'<text x="{pad + 4}" y="{pad - 8}" font-size="11" fill="#555">'
        f"{escape(_fmt(top))}{escape(unit)}</text>",
    ]
    if times:
        parts.append(
            f'<text x="{pad}" y="{height - 6}" font-size="11" fill="#555">{times[0]:%H:%M}</text>'
            f'<text x="{width - pad}" y="{height - 6}" font-size="11" fill="#555" text-anchor="end">'
            f"{times[-1]:%H:%M}</text>"
        )
    for number, (label, values) in enumerate(series):
        color = PALETTE[number % len(PALETTE)]
        if bars:
            count = max(len(values), 1)
            slot = (width - 2 * pad) / count
            for index, value in enumerate(values):
                if not value:
                    continue
                bar = (value / top) * (height - 2 * pad)
                parts.append(
                    f'<rect x="{pad + index * slot + 1:.1f}" y="{height - pad - bar:.1f}" '
                    f'width="{max(slot - 2, 1):.1f}" height="{bar:.1f}" fill="{color}" opacity="0.7"/>'
                )
        else:
            for run in _points(values, width, height, top, pad):
                parts.append(
                    f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(run)}"/>'
                )
        parts.append(
            f'<text x="{width - pad}" y="{pad - 8 + 13 * number}" font-size="11" fill="{color}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
    return mark_safe(  # noqa: S308 (numbers, escaped labels and our own colours only)
        f'<svg class="chart" width="100%" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(", ".join(label for label, _ in series))}">{"".join(parts)}</svg>'
    )


def budget_bars(
    rows: Sequence[tuple[str, float | None, float | None]], *, unit: str = "", width: int = 640
) -> SafeString:
    """Horizontal bars, one per (label, value, budget) row, each with its own budget line.

    A bar within its budget is green, one over it red; a dashed line marks the row's
    budget (pages may have budgets of their own), so each bar reads against its line.
    """
    row_height, label_width, pad = 22, 220, 8
    height = pad * 2 + row_height * max(len(rows), 1)
    figures = [figure for _, value, budget in rows for figure in (value, budget) if figure is not None]
    top = (max(figures) * 1.1 if figures else 0.0) or 1.0
    span = width - label_width - pad * 2 - 60

    def x(value: float) -> float:
        return label_width + (value / top) * span

    parts = []
    for number, (label, value, budget) in enumerate(rows):
        y = pad + number * row_height
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 15}" font-size="11" fill="#333" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        if value is not None:
            over = budget is not None and value > budget
            parts.append(
                f'<rect x="{label_width}" y="{y + 4}" width="{max(x(value) - label_width, 1):.1f}" '
                f'height="{row_height - 8}" fill="{"#dc2626" if over else "#16a34a"}" opacity="0.8"/>'
                f'<text x="{x(value) + 4:.1f}" y="{y + 15}" font-size="11" fill="#333">'
                f"{escape(_fmt(value))}{escape(unit)}</text>"
            )
        if budget is not None:
            parts.append(
                f'<line x1="{x(budget):.1f}" y1="{y + 1}" x2="{x(budget):.1f}" y2="{y + row_height - 1}" '
                f'stroke="#111" stroke-width="1.5" stroke-dasharray="3,2">'
                f"<title>budget {escape(_fmt(budget))}{escape(unit)}</title></line>"
            )
    return mark_safe(  # noqa: S308 (numbers, escaped labels and our own colours only)
        f'<svg class="chart" width="100%" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(", ".join(label for label, _, _ in rows))}">{"".join(parts)}</svg>'
    )
