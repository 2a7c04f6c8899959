"""Publishing outcomes: what the publishing of each business date came to (published,
partial, withheld or failed, and why), one JSON file a date under ``publish/_outcomes``.
The publish run writes them, an approval decision updates them, the planner reads which
dates are done, and the portal and the operations page show them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from kairos.config import Settings
from kairos.files import write_json


def outcomes_dir(cfg: Settings) -> Path:

    return cfg.publish_dir / "_outcomes"


def read_outcome(cfg: Settings, day: dt.date) -> dict | None:
    """What publishing did for ``day``: published, partial, withheld or failed, why."""
    path = outcomes_dir(cfg) / f"{day.isoformat()}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def outcome_dates(cfg: Settings) -> list[dt.date]:
    """Dates publishing has an outcome for, oldest first."""
    out = []
    for path in outcomes_dir(cfg).glob("*.json"):
        try:
            out.append(dt.date.fromisoformat(path.stem))
        except ValueError:
            continue
    return sorted(out)


def write_outcome(cfg: Settings, day: dt.date, outcome: dict) -> Path:
    path = outcomes_dir(cfg) / f"{day.isoformat()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"business_date": day.isoformat(), **outcome})
    return path
