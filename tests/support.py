"""What several test modules share (fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path

# the checkout under test: its dbt project, seeds, suites and DAGs
PROJECT = Path(__file__).resolve().parents[1]
