"""`welfare-audit run` that stops at the atomic replace of the published warehouse.

Usage: python -m tests.paused_publication MARKER PUBLISHED -- <welfare-audit arguments>
When the run calls os.replace onto PUBLISHED (after writing and fsync-ing its working file),
it writes MARKER and sleeps, so a test can kill -9 it exactly during publication.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any


def pause_at_replace(marker: Path, published: Path) -> None:
    """Patch os.replace to stop when it would replace the published warehouse."""
    real_replace = os.replace

    def replace(source: Any, destination: Any, *args: Any, **kwargs: Any) -> None:
        if Path(destination).resolve() == published.resolve():
            marker.write_text(str(source))
            time.sleep(600)
        real_replace(source, destination, *args, **kwargs)

    os.replace = replace


if __name__ == "__main__":
    marker_path, published_path, separator, *arguments = sys.argv[1:]
    assert separator == "--", "usage: MARKER PUBLISHED -- <welfare-audit arguments>"
    pause_at_replace(Path(marker_path), Path(published_path))
    from flows.cli import main

    sys.argv = ["welfare-audit", *arguments]
    main()
