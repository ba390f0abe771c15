"""Screenshots of the HTML report, section by section, and of the Data Docs beside it, in a
real headless browser.

Not a measurement: a look at what a reader sees. Renders a report from a sample run (or takes
a report.html you name), then has headless Chromium draw the page header and each section
alone, cropped to its content, as PNGs to look at; then the Data Docs index
(data_docs/index.html beside the report) and one suite page (the one with most checks), with
the browser's network disabled (every host unresolvable, every request sent to a dead proxy),
as an analyst in an office without internet would open them.

Usage (from the repository root):
    .venv/bin/python -m benchmarks.report_screenshots [--out DIR] [--no-programmes]
    .venv/bin/python -m benchmarks.report_screenshots --report output/runs/<run_id>/report.html

Without --report, a survey of 1,500 generated households is audited in a temporary folder
(PMT models ols and logit, 3 folds, about a minute; --no-programmes drops its programmes, as
a survey without programme data). Needs Debian's `chromium` (`apt-get install -y chromium`);
without it the script says so and stops. Writes DIR/00-top.png, DIR/01-<section>.png, ...,
DIR/data-docs-index.png and DIR/data-docs-suite-<table>.png (default DIR:
benchmarks/cache/report-screenshots, which git ignores).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import tomli_w
from PIL import Image, ImageChops

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WIDTH = 1100
HEIGHT = 12000
"""The window is tall enough for the longest section; the PNG is then cropped to content."""
DEFAULT_OUT = Path("benchmarks/cache/report-screenshots")
TOP = "top"


def browser() -> str | None:
    """The first headless-capable Chromium on PATH, if any."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def sample_report(folder: Path, *, programmes: bool) -> Path:
    """Audit a generated survey in ``folder`` and return its report.html."""
    from flows.audit import audit
    from transforms.sample.files import write_synthetic_survey

    write_synthetic_survey(folder, households=1500, seed=3, file_format="parquet")
    config = tomllib.loads((folder / "audit.toml").read_text())
    config["models"] |= {"enabled": ["ols", "logit"], "folds": 3}
    if not programmes:
        config.pop("programmes")
    (folder / "audit.toml").write_text(tomli_w.dumps(config))
    return Path(str(audit(str(folder / "audit.toml"), None)["report"]))


def section_ids(document: str) -> list[str]:
    """The report's sections in page order."""
    return re.findall(r'<section id="([\w-]+)">', document)


def isolated(document: str, shown: str) -> str:
    """The page with one section shown alone ('top': the header and glossary only)."""
    hide = (
        "main > section" if shown == TOP else f"main > section:not(#{shown}), header, dl.glossary"
    )
    style = f"<style>{hide} {{ display: none !important; }} main {{ padding-bottom: 8px; }}</style>"
    return document.replace("</head>", f"{style}\n</head>", 1)


def cropped(png: Path) -> None:
    """Crop a screenshot to its content (white margins below and beside it removed)."""
    with Image.open(png) as image:
        rgb = image.convert("RGB")
    box = ImageChops.difference(rgb, Image.new("RGB", rgb.size, "white")).getbbox()
    if box is not None:
        _, top, _, bottom = box
        rgb.crop((0, max(top - 8, 0), WIDTH, min(bottom + 16, rgb.height))).save(png)


OFFLINE = (
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no host name resolves
    "--proxy-server=127.0.0.1:9",  # and any request by address goes to the discard port
    "--proxy-bypass-list=<-loopback>",
)
"""Chromium switches that take the browser off the network (file:// pages still open)."""


def screenshot(
    chromium: str, page: Path, png: Path, profile: Path, *, offline: bool = False
) -> None:
    """Draw one HTML file to a PNG with headless Chromium (``offline``: network disabled)."""
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",  # root in a container
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            *(OFFLINE if offline else ()),
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--screenshot={png}",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    cropped(png)


def screenshots(report: Path, out: Path, chromium: str) -> list[Path]:
    """One PNG for the header and one per section of the report, in page order."""
    document = report.read_text(encoding="utf-8")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="report-shots-") as scratch:
        for index, shown in enumerate([TOP, *section_ids(document)]):
            page = Path(scratch) / f"{shown}.html"
            page.write_text(isolated(document, shown), encoding="utf-8")
            png = out / f"{index:02d}-{shown}.png"
            screenshot(chromium, page, png, Path(scratch) / "profile")
            written.append(png)
    return written


def busiest_suite(index: Path) -> Path | None:
    """The suite page with most checks (by its row count), linked from the Data Docs index."""
    pages = [
        index.parent / href for href in re.findall(r'href="(suites/[^"]+)"', index.read_text())
    ]
    pages = [page for page in pages if page.is_file()]
    return max(pages, key=lambda p: p.read_text().count("<tr"), default=None)


def data_docs_screenshots(report: Path, out: Path, chromium: str) -> list[Path]:
    """The Data Docs index beside the report and its busiest suite page, drawn offline."""
    index = report.parent / "data_docs" / "index.html"
    if not index.is_file():
        print(f"No Data Docs beside the report ({index})", file=sys.stderr)
        return []
    out.mkdir(parents=True, exist_ok=True)
    shots = [(index, out / "data-docs-index.png")]
    suite = busiest_suite(index)
    if suite is not None:
        shots.append((suite, out / f"data-docs-suite-{suite.stem}.png"))
    with tempfile.TemporaryDirectory(prefix="data-docs-shots-") as scratch:
        for page, png in shots:
            screenshot(chromium, page, png, Path(scratch) / "profile", offline=True)
    return [png for _, png in shots]


def main(argv: list[str] | None = None) -> int:
    """Render (or take) a report and write its screenshots; 2 when no browser is installed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, help="an existing report.html")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-programmes", action="store_true", help="sample without programmes")
    args = parser.parse_args(argv)
    chromium = browser()
    if chromium is None:
        print("No Chromium found: install Debian's (apt-get install -y chromium).", file=sys.stderr)
        return 2
    if args.report is not None:
        return report_shots(args.report, args.out, chromium)
    with tempfile.TemporaryDirectory(prefix="report-sample-") as folder:
        report = sample_report(Path(folder), programmes=not args.no_programmes)
        return report_shots(report, args.out, chromium)


def report_shots(report: Path, out: Path, chromium: str) -> int:
    """Write the screenshots of one report and of its Data Docs, and list them."""
    for png in [*screenshots(report, out, chromium), *data_docs_screenshots(report, out, chromium)]:
        print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
