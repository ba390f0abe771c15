"""Reading a rendered report in tests: its visible text and one section's HTML."""

from __future__ import annotations

import re


def text_of(html_fragment: str) -> str:
    """Visible text: tags become spaces, whitespace collapsed (entities kept)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_fragment)).strip()


def section_html(document: str, section_id: str) -> str:
    """The inner HTML of the report's ``<section id=...>``; fails the test when it is missing."""
    match = re.search(rf'<section id="{section_id}">(.*?)</section>', document, re.S)
    assert match, f"section {section_id} missing"
    return match.group(1)
