"""Charts are valid SVG: axes, labels, a titled mark per value, escaped text, no script."""

import xml.etree.ElementTree as ET

import pytest

from askpro_pipelines.report.svg import Series, hbar_chart, line_chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


def _parse(text: str) -> ET.Element:
    root = ET.fromstring(text)  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG}svg"
    assert not list(root.iter(f"{SVG}script"))
    return root


def _marks(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter() if "mark" in (e.get("class") or "").split()]


def _texts(root: ET.Element) -> list[str]:
    return [e.text or "" for e in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("top", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 0.5, 1]),
        (8, [0, 2, 4, 6, 8]),
        (15, [0, 5, 10, 15]),
        (44, [0, 20, 40, 60]),
        (950, [0, 500, 1000]),
    ],
)
def test_nice_ticks(top, ticks):
    assert nice_ticks(top) == pytest.approx(ticks)


def test_line_chart_has_axes_labels_and_a_titled_point_per_value():
    text = line_chart(
        "calls",
        "Calls <per> day",
        ["Mon", "Tue", "Wed"],
        [Series("calls", [3, 0, 15], "#2563eb"), Series("bookings & more", [1, 2, 3], "#16a34a")],
        y_label="per day",
    )
    root = _parse(text)
    assert root.get("data-chart") == "calls"
    assert root.find(f"{SVG}title").text == "Calls <per> day"  # escaped in the text, plain once parsed
    assert "Calls &lt;per&gt; day" in text
    marks = _marks(root)
    assert len(marks) == 6 and all(m.tag == f"{SVG}circle" for m in marks)
    titles = [m.find(f"{SVG}title").text for m in marks]
    assert titles[:3] == ["Mon: calls 3", "Tue: calls 0", "Wed: calls 15"]
    assert titles[3] == "Mon: bookings & more 1"
    assert {"Mon", "Tue", "Wed", "per day", "0", "15", "calls", "bookings & more"} <= set(_texts(root))
    # Higher values are drawn higher (smaller y); zero sits on the x axis.
    y = [float(m.get("cy")) for m in marks[:3]]
    assert y[2] < y[0] < y[1]
    assert len(root.findall(f"{SVG}polyline")) == 2


def test_hbar_chart_bars_scale_and_none_draws_no_bar():
    labels = ["Praxis <Mitte>", "Praxis Nord", "x" * 60]
    text = hbar_chart(
        "rates",
        "Success",
        labels,
        [0.5, None, 1.0],
        value_text=lambda v: "n/a" if v is None else f"{v:.0%}",
        max_value=1,
    )
    root = _parse(text)
    marks = _marks(root)
    assert len(marks) == 2 and all(m.tag == f"{SVG}rect" for m in marks)
    assert [m.find(f"{SVG}title").text for m in marks] == ["Praxis <Mitte>: 50%", f"{'x' * 60}: 100%"]
    widths = [float(m.get("width")) for m in marks]
    assert widths[1] == pytest.approx(2 * widths[0])
    texts = _texts(root)
    assert "Praxis <Mitte>" in texts and "n/a" in texts and "100%" in texts and "0%" in texts
    assert any(t.endswith("…") and len(t) <= 40 for t in texts)  # a long label is cut; its title keeps it whole


def test_hostile_text_cannot_escape_the_svg():
    evil = '"><script>alert(1)</script><text x="'
    text = hbar_chart(evil, evil, [evil], [3], value_text=lambda v: evil)
    root = _parse(text)
    assert not list(root.iter(f"{SVG}script"))
    assert "<script>" not in text
    assert _marks(root)[0].find(f"{SVG}title").text == f"{evil}: {evil}"
