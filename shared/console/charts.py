"""Charts drawn on the server as SVG (the content policy loads nothing from elsewhere, and a
chart needs no script): the geometry here, the <svg> in the template `console/_chart.html`."""

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 900, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 36


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float
    show_label: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Chart:
    title: str
    unit: str
    bars: tuple[Bar, ...]
    line: str  # SVG polyline points of the second series ("" when none)
    ticks: tuple[tuple[float, str], ...]  # (y, label) of the value axis
    # the line's values and their column heading, for the table that goes with the chart
    # (the same figures for a screen reader or to read exactly)
    line_values: tuple[float | None, ...] = ()
    line_label: str = ""
    label_heading: str = "日期"
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not any(bar.value for bar in self.bars)

    @property
    def rows(self) -> tuple[tuple[str, float, float | None], ...]:
        """(label, bar value, line value) per bar: the chart's table."""
        lines = self.line_values or (None,) * len(self.bars)
        return tuple((bar.label, bar.value, v) for bar, v in zip(self.bars, lines, strict=True))


def _ticks(top: float, plot: float) -> tuple[tuple[float, str], ...]:
    return tuple((HEIGHT - BOTTOM - plot * share, f"{top * share:g}") for share in (0.0, 0.5, 1.0))


def bar_chart(
    *,
    title: str,
    unit: str,
    points: Sequence[tuple[str, float]],
    line: Sequence[float | None] = (),
    line_label: str = "",
) -> Chart:
    """Bars of `points` (label, value), every seventh label written under its bar; `line`, a
    second series of the same length, drawn over them on its own scale."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max([value for _, value in points] + [1])
    step = plot_w / max(len(points), 1)
    bars = tuple(
        Bar(
            x=LEFT + i * step + step * 0.15,
            y=HEIGHT - BOTTOM - plot_h * value / top,
            width=step * 0.7,
            height=plot_h * value / top,
            label=label,
            value=value,
            # a label a week, and the last one, never two touching
            show_label=(i % 7 == 0 and len(points) - 1 - i >= 3) or i == len(points) - 1,
        )
        for i, (label, value) in enumerate(points)
    )
    given = [v for v in line if v is not None]
    line_top = max(given + [1.0])
    polyline = " ".join(
        f"{LEFT + i * step + step / 2:.1f},{HEIGHT - BOTTOM - plot_h * v / line_top:.1f}"
        for i, v in enumerate(line)
        if v is not None
    )
    return Chart(
        title=title,
        unit=unit,
        bars=bars,
        line=polyline,
        ticks=_ticks(top, plot_h),
        line_values=tuple(line),
        line_label=line_label,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Dot:
    x: float
    y: float
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    label: str
    colour: str
    segments: tuple[str, ...]  # SVG polyline points, broken where a value is missing
    dots: tuple[Dot, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LineChart:
    title: str
    unit: str
    series: tuple[Series, ...]
    labels: tuple[tuple[float, str], ...]  # (x, label) under the axis
    ticks: tuple[tuple[float, str], ...]
    legend: tuple[tuple[float, str, str], ...]  # (x, colour, label)
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not any(s.dots for s in self.series)


def line_chart(
    *,
    title: str,
    unit: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    label_every: int = 7,
) -> LineChart:
    """Lines over `labels` (one x each), every series (label, colour, values) on one scale; a
    missing value breaks its line. Every `label_every`-th label and the last are written."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max([v for _, _, values in series for v in values if v is not None] + [1.0])
    step = plot_w / max(len(labels), 1)

    def xy(i: int, value: float) -> tuple[float, float]:
        return round(LEFT + i * step + step / 2, 1), round(
            HEIGHT - BOTTOM - plot_h * value / top, 1
        )

    drawn = []
    for name, colour, values in series:
        segments: list[list[str]] = [[]]
        dots = []
        for i, value in enumerate(values):
            if value is None:
                segments.append([])
                continue
            x, y = xy(i, value)
            segments[-1].append(f"{x},{y}")
            dots.append(Dot(x=x, y=y, title=f"{labels[i]} {name}：{value:.1f} {unit}"))
        drawn.append(
            Series(
                label=name,
                colour=colour,
                segments=tuple(" ".join(s) for s in segments if s),
                dots=tuple(dots),
            )
        )
    shown = tuple(
        (round(LEFT + i * step + step / 2, 1), label)
        for i, label in enumerate(labels)
        if (i % label_every == 0 and len(labels) - 1 - i >= label_every / 2) or i == len(labels) - 1
    )
    legend = tuple(
        (LEFT + 20 + 110 * i, colour, name) for i, (name, colour, _) in enumerate(series)
    )
    ticks = tuple(
        (HEIGHT - BOTTOM - plot_h * share, f"{top * share:.3g}") for share in (0.0, 0.5, 1.0)
    )
    return LineChart(
        title=title, unit=unit, series=tuple(drawn), labels=shown, ticks=ticks, legend=legend
    )
