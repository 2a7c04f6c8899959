"""What several test modules share (fixtures are in conftest.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from kairos import contract
from kairos.control import ControlRecord, write_control

# the checkout under test: its dbt project, seeds, suites and DAGs
PROJECT = Path(__file__).resolve().parents[1]


def redeliver(cfg, key: str, data: bytes, day=None, rows: int | None = None) -> None:
    """Replace an extract's data file (of ``day``, by default conftest's DAY) and write a
    control file that matches it."""
    if day is None:
        from tests.conftest import DAY as day
    e = contract.get(key)
    path = e.data_path(cfg.landing, day)
    path.unlink(missing_ok=True)
    path.write_bytes(data)
    control = ControlRecord(
        path.name,
        day,
        data.count(b"\n") - 1 if rows is None else rows,
        len(data),
        hashlib.md5(data).hexdigest(),
    )
    write_control(e.control_path(cfg.landing, day), control)
