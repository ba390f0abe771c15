"""Start-up cost of the command line: how soon an error reaches the user, and the embedded
sample's full audit (issue #17's targets: an error in <= 3 s, the sample audit in <= 25 s).

Usage (from the repository root, on an idle machine):
    .venv/bin/python -m benchmarks.startup [--repeat 3]

Each case runs `welfare-audit` as a new process (what a user waits for), with a fresh
PREFECT_HOME and Prefect's temporary server (no PREFECT_API_URL). Prints the wall seconds of
each repeat and writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.run import RESULTS, machine

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


def broken_configs(folder: Path) -> dict[str, Path]:
    """The sample's config with a missing column, and a config with a wrong key."""
    for name in ("households.parquet", "members.parquet", "regions.parquet", "projection.parquet"):
        shutil.copyfile(SAMPLE / name, folder / name)
    text = (SAMPLE / "audit.toml").read_text()
    missing = folder / "missing-column.toml"
    missing.write_text(text.replace('welfare = "pcexp"', 'welfare = "pcexp_missing"', 1))
    bad = folder / "bad-config.toml"
    bad.write_text(text.replace("[inputs.households]", "[inputs.housholds]", 1))
    return {"missing_column": missing, "bad_config": bad}


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, exit code and the last output line of one process."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    lines = (done.stdout + done.stderr).strip().splitlines()
    return round(seconds, 2), done.returncode, lines[-1] if lines else ""


def main() -> None:
    """Time the error cases and the sample audit; print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    cli = [sys.executable, "-m", "flows.cli"]
    results: dict[str, object] = {"machine": machine(), "repeat": repeat}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        env = {**os.environ, "PREFECT_API_URL": "", "PREFECT_HOME": str(folder / "prefect")}
        for case, config in broken_configs(folder).items():
            runs = [timed([*cli, "run", "--config", str(config)], env) for _ in range(repeat)]
            results[case] = {"seconds": [r[0] for r in runs], "exit": runs[0][1]}
            print(f"{case}: {[r[0] for r in runs]} s (exit {runs[0][1]}; target <= 3 s)")
        warehouse = folder / "sample.duckdb"
        audit = [*cli, "run", "--config", str(SAMPLE / "audit.toml"), "--warehouse"]
        runs = [timed([*audit, str(warehouse), "--retrain"], env) for _ in range(repeat)]
        results["sample_audit"] = {"seconds": [r[0] for r in runs], "exit": runs[0][1]}
        print(f"sample audit: {[r[0] for r in runs]} s (exit {runs[0][1]}; target <= 25 s)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
