"""Printable PDF reports (reportlab platypus): a cover with figures and a chart, a table.

Pure rendering: values in, PDF bytes out, no database. The table holds at most
``row_limit`` rows (the rest is in the CSV, and the PDF says so); it is laid out in
chunks so that reportlab splits long tables across pages in linear time.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from itertools import islice
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.piecharts import Pie
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

PAGE = landscape(A4)
MARGIN = 14 * mm
FONT = "Helvetica"
BOLD = "Helvetica-Bold"
CELL_FONT_SIZE = 7.0
CELL_PADDING = 3.0
CHUNK_ROWS = 200  # rows per platypus Table; each chunk repeats the header row
ACCENT = colors.HexColor("#2f5d9b")
PALETTE = tuple(
    colors.HexColor(c)
    for c in ("#b42318", "#e8590c", "#f0b400", "#2f5d9b", "#7a869a", "#2b8a3e")
)


class ChartStyle(StrEnum):
    """How a chart draws its values."""

    BAR = "bar"
    PIE = "pie"


@dataclass(frozen=True, slots=True)
class Figure:
    """A headline figure on the cover, e.g. ("Compliance", "87.5 %")."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart: a value per label (bars in label order, or pie slices)."""

    title: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    style: ChartStyle = ChartStyle.BAR
    label_format: str = "%.0f"  # of the value on each bar (printf style)
    colours: tuple[str, ...] = ()  # hex colour per value; default: a palette
    value_max: float | None = None  # top of the value axis, e.g. 100 for percentages


@dataclass(frozen=True, slots=True)
class ReportDocument:
    """Everything on a report but its rows.

    Attributes:
        title: The report's title, e.g. "Missing patches".
        tenant: The client's name, or the partner's for All Clients.
        scope_label: What the report covers, e.g. "Client" or "All Clients".
        generated_at: When it was generated (aware; shown in UTC).
        figures: Headline figures for the cover.
        chart: The cover's chart.
        columns: Column headers of the table.
        total_rows: Rows of the full report (the CSV), for the "first N of M" note.
    """

    title: str
    tenant: str
    scope_label: str
    generated_at: datetime
    figures: tuple[Figure, ...]
    chart: Chart
    columns: tuple[str, ...]
    total_rows: int


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "kicker": ParagraphStyle(
            "kicker", parent=base["Normal"], textColor=ACCENT, fontSize=11
        ),
        "title": ParagraphStyle(
            "title", parent=base["Title"], alignment=0, fontSize=24, leading=29
        ),
        "tenant": ParagraphStyle(
            "tenant", parent=base["Heading2"], fontSize=16, leading=20
        ),
        "meta": ParagraphStyle(
            "meta", parent=base["Normal"], textColor=colors.HexColor("#555555")
        ),
        "heading": ParagraphStyle("heading", parent=base["Heading2"]),
        "note": ParagraphStyle(
            "note", parent=base["Normal"], textColor=colors.HexColor("#8a4b00")
        ),
        "value": ParagraphStyle(
            "value", parent=base["Normal"], fontName=BOLD, fontSize=20, leading=24
        ),
        "label": ParagraphStyle(
            "label", parent=base["Normal"], fontSize=9, textColor=colors.grey
        ),
    }


def cell_text(value: object) -> str:
    """A value as table or CSV text: ISO UTC times, dates, "" for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def build_pdf(
    document: ReportDocument, rows: Iterable[Sequence[object]], *, row_limit: int
) -> bytes:
    """The PDF of ``document`` with at most ``row_limit`` of ``rows`` in its table."""
    styles = _styles()
    shown = [[cell_text(v) for v in row] for row in islice(rows, row_limit)]
    story: list[Flowable] = [*_cover(document, styles), PageBreak()]
    story.append(Paragraph(escape(f"{document.title}: details"), styles["heading"]))
    if document.total_rows > len(shown):
        story.append(
            Paragraph(
                escape(
                    f"Showing the first {len(shown):,} of {document.total_rows:,} "
                    "rows; full list in the CSV."
                ),
                styles["note"],
            )
        )
    story.append(Spacer(1, 3 * mm))
    if shown:
        story.extend(_tables(document.columns, shown))
    else:
        story.append(Paragraph("Nothing to report.", styles["meta"]))
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=f"{document.title} — {document.tenant}",
        author="patchfleet",
        subject=document.scope_label,
        creator="patchfleet",
    )
    footer = _footer(document)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _cover(
    document: ReportDocument, styles: dict[str, ParagraphStyle]
) -> list[Flowable]:
    generated = cell_text(document.generated_at)
    return [
        Paragraph("patchfleet report", styles["kicker"]),
        Paragraph(escape(document.title), styles["title"]),
        Paragraph(escape(document.tenant), styles["tenant"]),
        Paragraph(
            escape(f"{document.scope_label} · generated {generated}"), styles["meta"]
        ),
        Spacer(1, 8 * mm),
        _figures(document.figures, styles),
        Spacer(1, 8 * mm),
        chart_drawing(document.chart),
    ]


def _figures(figures: Sequence[Figure], styles: dict[str, ParagraphStyle]) -> Table:
    if not figures:
        return Table([[""]])
    cells = [
        [
            [
                Paragraph(escape(f.value), styles["value"]),
                Paragraph(escape(f.label), styles["label"]),
            ]
            for f in figures
        ]
    ]
    width = (PAGE[0] - 2 * MARGIN) / max(len(figures), 4)
    table = Table(cells, colWidths=[width] * len(figures), hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("LINEBEFORE", (1, 0), (-1, -1), 0.5, colors.lightgrey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return table


def chart_drawing(chart: Chart, width: float = 520, height: float = 230) -> Drawing:
    """The chart as a reportlab drawing, its title on top and a label per value."""
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 12, chart.title, fontName=BOLD, fontSize=11))
    if not chart.values or (chart.style is ChartStyle.PIE and not sum(chart.values)):
        drawing.add(String(0, height - 40, "No data", fontName=FONT, fontSize=10))
        return drawing
    if chart.style is ChartStyle.PIE:
        drawing.add(_pie(chart, height - 30))
    else:
        drawing.add(_bars(chart, width, height - 30))
    return drawing


def _bars(chart: Chart, width: float, height: float) -> VerticalBarChart:
    bars = VerticalBarChart()
    bars.x, bars.y = 40, 30
    bars.width = int(min(width - 60, 70 * len(chart.values) + 40))
    bars.height = int(height - 45)
    bars.data = [list(chart.values)]
    bars.categoryAxis.categoryNames = list(chart.labels)
    bars.categoryAxis.labels.fontName = FONT
    bars.categoryAxis.labels.fontSize = 9
    bars.categoryAxis.labels.dy = -4
    bars.valueAxis.valueMin = 0
    bars.valueAxis.valueMax = chart.value_max or max(max(chart.values), 1) * 1.15
    bars.valueAxis.labels.fontName = FONT
    bars.valueAxis.labels.fontSize = 8
    bars.barLabelFormat = chart.label_format
    bars.barLabels.nudge = 7
    bars.barLabels.fontName = FONT
    bars.barLabels.fontSize = 8
    bars.bars[0].fillColor = ACCENT
    bars.bars[0].strokeColor = None
    for i, colour in enumerate(_colours(chart)):
        bars.bars[(0, i)].fillColor = colour
    return bars


def _colours(chart: Chart) -> list[colors.Color]:
    if chart.colours:
        return [colors.HexColor(c) for c in chart.colours]
    return [PALETTE[i % len(PALETTE)] for i in range(len(chart.values))]


def _pie(chart: Chart, height: float) -> Pie:
    pie = Pie()
    size = int(min(height - 30, 160))
    pie.x, pie.y = 140, int((height - size) / 2)
    pie.width = pie.height = size
    pie.data = list(chart.values)
    pie.labels = [
        f"{label} {value:,.0f}"
        for label, value in zip(chart.labels, chart.values, strict=True)
    ]
    pie.sideLabels = True
    pie.slices.fontName = FONT
    pie.slices.fontSize = 9
    pie.slices.strokeColor = colors.white
    for i, colour in enumerate(_colours(chart)):
        pie.slices[i].fillColor = colour
    return pie


def _column_widths(
    columns: Sequence[str], rows: Sequence[Sequence[str]]
) -> list[float]:
    """Each column as wide as its widest text (header, first rows), capped evenly.

    The cap is the largest width at which all columns fit the frame, so narrow
    columns keep their text and only the widest ones are cut.
    """
    sample = rows[:CHUNK_ROWS]
    wanted = [
        max(
            stringWidth(c, BOLD, CELL_FONT_SIZE),
            *(stringWidth(r[i], FONT, CELL_FONT_SIZE) for r in sample),
        )
        + 2 * CELL_PADDING
        + 1
        for i, c in enumerate(columns)
    ]
    return _share(wanted, PAGE[0] - 2 * MARGIN)


def _share(wanted: Sequence[float], frame: float) -> list[float]:
    """Widths summing to ``frame``, by water-filling.

    The narrowest columns get what they want, the others share the rest equally;
    room to spare is shared in proportion to what each wants.
    """
    remaining, cap = frame, float("inf")
    for k, width in enumerate(sorted(wanted)):
        if width * (len(wanted) - k) > remaining:
            cap = remaining / (len(wanted) - k)
            break
        remaining -= width
    widths = [min(w, cap) for w in wanted]
    spare = frame - sum(widths)
    return [w + spare * w / sum(widths) for w in widths]


def _fit(text: str, width: float, font: str) -> str:
    room = width - 2 * CELL_PADDING
    if stringWidth(text, font, CELL_FONT_SIZE) <= room:
        return text
    while text and stringWidth(text + "…", font, CELL_FONT_SIZE) > room:
        text = text[: max(len(text) - max(len(text) // 8, 1), 0)]
    return text + "…"


def _tables(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[Flowable]:
    widths = _column_widths(columns, rows)
    header = [_fit(c, w, BOLD) for c, w in zip(columns, widths, strict=True)]
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, CELL_FONT_SIZE),
            ("FONT", (0, 0), (-1, 0), BOLD, CELL_FONT_SIZE),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf4")),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.whitesmoke]),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
            ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
            ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ]
    )
    tables: list[Flowable] = []
    for start in range(0, len(rows), CHUNK_ROWS):
        body = [
            [_fit(v, w, FONT) for v, w in zip(row, widths, strict=True)]
            for row in rows[start : start + CHUNK_ROWS]
        ]
        table = Table([header, *body], colWidths=widths, repeatRows=1, hAlign="LEFT")
        table.setStyle(style)
        tables.append(table)
    return tables


def _footer(document: ReportDocument) -> Callable[[Canvas, SimpleDocTemplate], None]:
    text = f"patchfleet · {document.title} · {document.tenant}"

    def draw(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.setFillColor(colors.grey)
        canvas.drawString(MARGIN, MARGIN / 2, text)
        canvas.drawRightString(PAGE[0] - MARGIN, MARGIN / 2, f"Page {doc.page}")
        canvas.restoreState()

    return draw
