"""A short soak under the real Airflow scheduler (not dag.test): three business dates,
the second with a control-file mismatch, and Airflow stopped and started again (as an
operator restarts `make airflow`) while the third date's ingest runs are under way.
`make soak` runs the month."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import PROJECT

pytestmark = pytest.mark.slow


def test_three_days_under_the_real_scheduler(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "KAIROS_")) or k == "KAIROS_DUCKDB_MEMORY_LIMIT"
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.harness.soak",
            "--days",
            "3",
            "--plan",
            "short",
            "--subscribers",
            "600",
            "--home",
            str(tmp_path / "soak"),
            "--restart-day",
            "3",
        ],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ") and "2026" in line]
    assert len(rows) == 3, out[-3000:]
    assert all("| yes |" in r for r in rows), "\n".join(rows)
    cells = [[c.strip() for c in r.split("|")[1:-1]] for r in rows]
    assert "Airflow stopped and started again mid-day" in proc.stdout, out[-3000:]
    # day 2: the refused file kept the day from being built; day 3 recovered on its own,
    # across the restart
    refused, built, publication = 5, 8, 9
    assert (cells[1][refused], cells[1][built], cells[1][publication]) == ("1", "no", "none")
    assert (cells[2][built], cells[2][publication]) == ("built", "published")
    assert "every row as expected: yes" in proc.stdout
