"""Small charts as inline SVG text: no script, no font or image fetched, every text escaped.

Each chart is one `<svg class="chart" data-chart="…">` with a `<title>`, axes with labels, and its
marks (`class="mark"`: a point of a line, a bar) each carrying a `<title>` that names the mark
and its value, which the browser shows on hover and screen readers read.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

FONT = 'font-family="system-ui, sans-serif" font-size="12"'
AXIS = "#6b7280"
GRID = "#e5e7eb"
CHAR_WIDTH = 7.0  # a generous width of one 12 px character, for label space
MAX_LABEL_CHARS = 40  # longer bar labels are cut with "…" (the mark's title has the whole label)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    color: str


def _num(value: float) -> str:
    """Coordinates with at most one decimal: short and exact enough."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 … a round number ≥ top in steps of 1, 2 or 5 × 10^n (at least one step when top is 0)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / (count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    steps = math.ceil(top / step - 1e-9)
    return [i * step for i in range(steps + 1)]


def _tick_text(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _open(chart_id: str, title: str, width: float, height: float) -> list[str]:
    ident = escape(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{ident}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" width="{_num(width)}" height="{_num(height)}" '
        f'role="img" aria-labelledby="chart-{ident}-title">',
        f'<title id="chart-{ident}-title">{escape(title)}</title>',
    ]


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = "#111827", extra: str = "") -> str:
    return f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" fill="{fill}" {FONT}{extra}>{escape(text)}</text>'


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    parts = []
    for s in series:
        parts.append(f'<rect x="{_num(x)}" y="{_num(y - 9)}" width="10" height="10" fill="{escape(s.color)}"/>')
        parts.append(_text(x + 14, y, s.name))
        x += 14 + len(s.name) * CHAR_WIDTH + 18
    return parts


def line_chart(
    chart_id: str,
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    y_label: str,
    width: float = 720,
    height: float = 300,
) -> str:
    """A line per series over the x labels, a point (mark) per value, y from 0 with round ticks."""
    left, right, top, bottom = 56.0, 16.0, 34.0, 40.0
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = nice_ticks(max((v for s in series for v in s.values), default=0))
    y_max = ticks[-1]

    def x_at(i: int) -> float:
        return left + (plot_w * (i + 0.5) / len(x_labels) if x_labels else 0)

    def y_at(v: float) -> float:
        return top + plot_h - plot_h * v / y_max

    parts = _open(chart_id, title, width, height)
    parts += _legend(series, left, 16)
    for tick in ticks:
        y = y_at(tick)
        parts.append(
            f'<line x1="{_num(left)}" x2="{_num(width - right)}" y1="{_num(y)}" y2="{_num(y)}" stroke="{GRID}"/>'
        )
        parts.append(_text(left - 6, y + 4, _tick_text(tick), "end", AXIS))
    axis_y = _num(top + plot_h)
    parts.append(f'<line x1="{_num(left)}" x2="{_num(left)}" y1="{_num(top)}" y2="{axis_y}" stroke="{AXIS}"/>')
    parts.append(f'<line x1="{_num(left)}" x2="{_num(width - right)}" y1="{axis_y}" y2="{axis_y}" stroke="{AXIS}"/>')
    parts.append(
        _text(14, top + plot_h / 2, y_label, "middle", AXIS, f' transform="rotate(-90 14 {_num(top + plot_h / 2)})"')
    )
    for i, label in enumerate(x_labels):
        parts.append(_text(x_at(i), top + plot_h + 18, label, "middle", AXIS))
    for s in series:
        points = " ".join(f"{_num(x_at(i))},{_num(y_at(v))}" for i, v in enumerate(s.values))
        color = escape(s.color)
        parts.append(f'<polyline class="line" points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, value in enumerate(s.values):
            parts.append(
                f'<circle class="mark" cx="{_num(x_at(i))}" cy="{_num(y_at(value))}" r="4" fill="{color}">'
                f"<title>{escape(f'{x_labels[i]}: {s.name} {_tick_text(value)}')}</title></circle>"
            )
    parts.append("</svg>")
    return "\n".join(parts)


def hbar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    value_text: Callable[[float | None], str],
    max_value: float | None = None,
    color: str = "#2563eb",
    width: float = 720,
) -> str:
    """A horizontal bar (mark) per label, the value written after it; None draws no bar ("n/a")."""
    max_chars = MAX_LABEL_CHARS
    longest = min(max((len(label) for label in labels), default=0), max_chars)
    label_w = max(longest * CHAR_WIDTH + 12, 60)
    bar_h, gap, top, bottom = 20.0, 8.0, 12.0, 28.0
    value_w = 120.0
    plot_w = width - label_w - value_w
    height = top + len(labels) * (bar_h + gap) + bottom
    ticks = nice_ticks(max_value if max_value is not None else max((v or 0 for v in values), default=0))
    x_max = ticks[-1]
    axis_y = top + len(labels) * (bar_h + gap)

    parts = _open(chart_id, title, width, height)
    for tick in ticks:
        x = label_w + plot_w * tick / x_max
        parts.append(f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{_num(top)}" y2="{_num(axis_y)}" stroke="{GRID}"/>')
        tick_label = f"{tick:.0%}" if max_value == 1 else _tick_text(tick)
        parts.append(_text(x, axis_y + 16, tick_label, "middle", AXIS))
    parts.append(
        f'<line x1="{_num(label_w)}" x2="{_num(label_w)}" y1="{_num(top)}" y2="{_num(axis_y)}" stroke="{AXIS}"/>'
    )
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * (bar_h + gap) + gap / 2
        shown = label if len(label) <= max_chars else label[: max(max_chars - 1, 1)] + "…"
        parts.append(_text(label_w - 6, y + bar_h / 2 + 4, shown, "end"))
        text = value_text(value)
        if value is not None:
            bar_w = plot_w * value / x_max
            parts.append(
                f'<rect class="mark" x="{_num(label_w)}" y="{_num(y)}" width="{_num(bar_w)}" height="{_num(bar_h)}" '
                f'fill="{escape(color)}"><title>{escape(f"{label}: {text}")}</title></rect>'
            )
        else:
            bar_w = 0.0
        parts.append(_text(label_w + bar_w + 6, y + bar_h / 2 + 4, text, fill=AXIS))
    parts.append("</svg>")
    return "\n".join(parts)
