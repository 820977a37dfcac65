"""Charts drawn on the server as inline SVG: no CDN, no script, prints as drawn.

Each chart is a ``<figure>`` with an SVG (``role="img"``, a title and a
description) and the same numbers in a visually hidden table, so a screen reader
or a printout in black and white loses nothing. A suppressed count ("<5") is
drawn as no bar with its label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

BAR = "#1d70b8"
BAR_ALT = "#f47738"
AXIS = "#505a5f"
TEXT = "#0b0c0c"


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _label(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _table(
    caption: str, rows: Sequence[tuple[str, Sequence[Any]]], heads: Sequence[str]
) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in heads)
    body = "".join(
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(f"<td>{escape(_label(v))}</td>" for v in values)
        + "</tr>"
        for label, values in rows
    )
    return (
        f'<table class="visually-hidden"><caption>{escape(caption)}</caption>'
        f"<thead><tr><td></td>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def bars(
    title: str,
    items: Sequence[tuple[str, Any]],
    *,
    unit: str = "conversations",
    width: int = 640,
) -> Markup:
    """A horizontal bar chart of (label, count) items."""
    if not items:
        return _safe(
            f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
            '<p class="chart-empty">Nothing in this period.</p></figure>'
        )
    row, label_w, pad = 26, 270, 48
    height = row * len(items) + 8
    top = max([_number(v) for _, v in items] + [1.0])
    scale = (width - label_w - pad) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-hidden="true" '
        'focusable="false" class="chart-svg">'
    ]
    for i, (label, value) in enumerate(items):
        y = i * row + 4
        w = _number(value) * scale
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" '
            f'font-size="13" fill="{TEXT}">{escape(_short(label))}</text>'
        )
        if w > 0:
            parts.append(
                f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
                f'fill="{BAR}"/>'
            )
        parts.append(
            f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" font-size="13" '
            f'fill="{TEXT}">{escape(_label(value))}</text>'
        )
    parts.append(
        f'<line x1="{label_w}" y1="0" x2="{label_w}" y2="{height}" '
        f'stroke="{AXIS}" stroke-width="1"/></svg>'
    )
    table = _table(title, [(lbl, [v]) for lbl, v in items], [unit])
    return _safe(
        f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
        + "".join(parts)
        + table
        + "</figure>"
    )


def columns(
    title: str,
    items: Sequence[tuple[str, Any]],
    *,
    unit: str = "conversations",
    width: int = 640,
    height: int = 220,
) -> Markup:
    """A column chart over time of (period, count) items."""
    if not items:
        return bars(title, items, unit=unit)
    base, left, top_pad = height - 40, 36, 18
    top = max([_number(v) for _, v in items] + [1.0])
    slot = (width - left - 8) / len(items)
    col = max(4.0, min(48.0, slot * 0.7))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-hidden="true" '
        'focusable="false" class="chart-svg">',
        f'<line x1="{left}" y1="{base}" x2="{width - 4}" y2="{base}" '
        f'stroke="{AXIS}" stroke-width="1"/>',
    ]
    every = max(1, len(items) // 12)  # label at most about 12 periods
    for i, (label, value) in enumerate(items):
        h = _number(value) / top * (base - top_pad)
        x = left + i * slot + (slot - col) / 2
        if h > 0:
            parts.append(
                f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{col:.1f}" '
                f'height="{h:.1f}" fill="{BAR}"/>'
            )
        parts.append(
            f'<text x="{x + col / 2:.1f}" y="{base - h - 4:.1f}" font-size="12" '
            f'text-anchor="middle" fill="{TEXT}">{escape(_label(value))}</text>'
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + col / 2:.1f}" y="{base + 16}" font-size="11" '
                f'text-anchor="middle" fill="{TEXT}">{escape(label)}</text>'
            )
    parts.append("</svg>")
    table = _table(title, [(lbl, [v]) for lbl, v in items], [unit])
    return _safe(
        f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
        + "".join(parts)
        + table
        + "</figure>"
    )


def paired(
    title: str,
    items: Sequence[tuple[str, Any, Any]],
    *,
    heads: tuple[str, str] = ("median", "90th percentile"),
    unit: str = "minutes",
    width: int = 640,
) -> Markup:
    """Two bars per row (median and 90th percentile), e.g. response times."""
    row, label_w, pad = 44, 230, 80
    height = row * len(items) + 30
    top = max([_number(v) for _, a, b in items for v in (a, b)] + [1.0])
    scale = (width - label_w - pad) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-hidden="true" '
        'focusable="false" class="chart-svg">'
    ]
    for i, (label, first, second) in enumerate(items):
        y = i * row + 4
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 22}" text-anchor="end" font-size="13" '
            f'fill="{TEXT}">{escape(label)}</text>'
        )
        for j, (value, colour) in enumerate(((first, BAR), (second, BAR_ALT))):
            w = _number(value) * scale
            yy = y + 3 + j * 18
            if w > 0:
                parts.append(
                    f'<rect x="{label_w}" y="{yy}" width="{w:.1f}" height="15" '
                    f'fill="{colour}"/>'
                )
            shown = "–" if value is None else f"{_label(value)} {unit[:3]}"
            parts.append(
                f'<text x="{label_w + w + 6:.1f}" y="{yy + 12}" font-size="12" '
                f'fill="{TEXT}">{escape(shown)}</text>'
            )
    legend_y = height - 10
    parts.append(
        f'<rect x="{label_w}" y="{legend_y - 10}" width="12" height="12" fill="{BAR}"/>'
        f'<text x="{label_w + 16}" y="{legend_y}" font-size="12" fill="{TEXT}">'
        f"{escape(heads[0])}</text>"
        f'<rect x="{label_w + 110}" y="{legend_y - 10}" width="12" height="12" '
        f'fill="{BAR_ALT}"/><text x="{label_w + 126}" y="{legend_y}" font-size="12" '
        f'fill="{TEXT}">{escape(heads[1])}</text></svg>'
    )
    table = _table(title, [(lbl, [a, b]) for lbl, a, b in items], [*heads])
    return _safe(
        f'<figure class="chart"><figcaption>{escape(title)} ({escape(unit)})'
        "</figcaption>" + "".join(parts) + table + "</figure>"
    )


def _safe(html: str) -> Markup:
    """Mark a chart as HTML: every value in it went through ``escape``."""
    return Markup(html)  # noqa: S704 - built from escaped values only


def _short(label: str, limit: int = 36) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
