"""The report's view models: sections of blocks holding already formatted text.

:mod:`transforms.report.view` builds them from one run's rows; ``templates/blocks.html.j2``
lays out each kind of block (its ``kind``) and escapes every string. Nothing here holds a
number or markup: cells are text, charts are SVG strings from :mod:`transforms.report.charts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from transforms.report.formats import COMPLEMENTARY, SUPPRESSED


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, an optional 95 % CI shown muted after it, and its style."""

    text: str
    ci: str = ""
    style: Literal["", "strong", "code", "hash"] = ""
    suppressed: bool = False


SUPPRESSED_CELL = Cell(SUPPRESSED, suppressed=True)
COMPLEMENTARY_CELL = Cell(COMPLEMENTARY, suppressed=True)


@dataclass(frozen=True)
class Table:
    """A table of formatted cells; columns numeric_from..numeric_to (exclusive) are numbers."""

    kind: ClassVar[str] = "table"
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    caption: str = ""
    numeric_from: int = 1
    numeric_to: int | None = None
    css: str = ""

    def is_numeric(self, index: int) -> bool:
        """Whether column ``index`` holds numbers (right-aligned)."""
        return self.numeric_from <= index and (self.numeric_to is None or index < self.numeric_to)


@dataclass(frozen=True)
class Figure:
    """A chart: inline SVG from :mod:`transforms.report.charts` and its caption."""

    kind: ClassVar[str] = "figure"
    chart_id: str
    svg: str
    caption: str


@dataclass(frozen=True)
class Unavailable:
    """The one line a section (or a part of it) shows when its data is missing."""

    kind: ClassVar[str] = "unavailable"
    reason: str


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text; ``css`` 'headline' sets it off as the headline."""

    kind: ClassVar[str] = "paragraph"
    text: str
    css: str = ""


@dataclass(frozen=True)
class HeadlineSentence:
    """A programme's national errors and coverage against a line, formatted, for the headline
    sentence; ``programme`` and ``line`` are '' when the run does not name them."""

    kind: ClassVar[str] = "headline"
    programme: str
    line: str
    exclusion: str
    exclusion_ci: str
    inclusion: str
    inclusion_ci: str
    coverage: str
    coverage_ci: str
    poverty_rate: str
    poor: str
    beneficiaries: str
    population: str


@dataclass(frozen=True)
class SuppressedNational:
    """The national estimates are withheld by disclosure control."""

    kind: ClassVar[str] = "suppressed-national"
    text: str = SUPPRESSED


@dataclass(frozen=True)
class ModelNote:
    """How model rates were estimated (the cross-validation schemes used)."""

    kind: ClassVar[str] = "model-note"
    schemes: str


@dataclass(frozen=True)
class Facts:
    """Term–value pairs (the run's provenance, the report's definitions)."""

    kind: ClassVar[str] = "facts"
    items: tuple[tuple[str, Cell], ...]
    css: str = "provenance"


@dataclass(frozen=True)
class Bullets:
    """A list of plain-text items."""

    kind: ClassVar[str] = "bullets"
    items: tuple[str, ...]


@dataclass(frozen=True)
class Link:
    """A relative link to a file of the run's folder, with what it holds."""

    text: str
    href: str
    description: str


@dataclass(frozen=True)
class Links:
    """Links to the run's other outputs (the workbook, the validation Data Docs)."""

    kind: ClassVar[str] = "links"
    items: tuple[Link, ...]


Block = (
    Table
    | Figure
    | Unavailable
    | Paragraph
    | HeadlineSentence
    | SuppressedNational
    | ModelNote
    | Facts
    | Bullets
    | Links
)


@dataclass(frozen=True)
class Section:
    """One report section: anchor id, navigation label, title and blocks."""

    id: str
    nav: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class ReportView:
    """The whole report as formatted text: the run's identity and its sections."""

    name: str
    run_id: str
    status: str
    succeeded: bool
    error: str
    finished: str
    code_version: str
    schema: str
    sections: tuple[Section, ...]
    links: tuple[Link, ...] = ()
