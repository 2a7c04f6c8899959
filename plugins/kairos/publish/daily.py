"""The daily publishing run: gate the warehouse -> build the lists -> gate the lists ->
publish. The ``publish_target_lists`` DAG runs these steps as tasks; ``kairos publish``
runs them in one process. Every step reads the analysts' snapshot, never the live
warehouse file, so publishing never waits for (or blocks) a writer.

Any failure publishes nothing: the staged lists stay in ``_staging`` for inspection,
``lists/<date>`` and ``current`` keep pointing at the last good lists, a human-readable
summary is written to ``publish/_reports`` and the alert hook is called.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import traceback
from dataclasses import dataclass
from pathlib import Path

from kairos import publish, quality, warehouse
from kairos.config import Settings, settings

log = logging.getLogger(__name__)

WAREHOUSE_SUITES = ("raw_extracts", "marts")
LIST_SUITES = ("target_lists",)


def _database(cfg: Settings) -> Path:
    path = warehouse.snapshot_path(cfg)
    if not path.exists():
        raise FileNotFoundError(
            f"no warehouse snapshot at {path}: build_warehouse publishes one after each build"
            " (or run `kairos snapshot`)"
        )
    return path


def gate_warehouse(day: dt.date, run_id: str, cfg: Settings | None = None) -> dict:
    """GX suites on the raw extracts and the key marts of ``day``; raises GateFailed."""
    cfg = cfg or settings()
    suites = [s for module in WAREHOUSE_SUITES for s in quality.load_suites(module)]
    result = quality.run_gate(
        "warehouse", suites, day, run_id=run_id, cfg=cfg, database=_database(cfg)
    )
    return {"gate": result.gate, "success": result.success, "result": result.result_path}


def stage_lists(day: dt.date, run_id: str, cfg: Settings | None = None) -> str:
    """Build the day's lists into a fresh staging directory; returns its path."""
    cfg = cfg or settings()
    staging = publish.staging_dir(cfg, day, run_id)
    publish.discard(staging)  # a retried task starts over
    publish.build_lists(day, staging, cfg, database=_database(cfg))
    return str(staging)


def gate_lists(day: dt.date, run_id: str, staging: str, cfg: Settings | None = None) -> dict:
    """GX suites on the staged lists; raises GateFailed."""
    cfg = cfg or settings()
    suites = [s for module in LIST_SUITES for s in quality.load_suites(module)]
    result = quality.run_gate(
        "target_lists",
        suites,
        day,
        run_id=run_id,
        params={"lists_dir": staging},
        cfg=cfg,
        database=_database(cfg),
    )
    return {"gate": result.gate, "success": result.success, "result": result.result_path}


def publish_lists(
    day: dt.date, run_id: str, staging: str, certification: dict, cfg: Settings | None = None
) -> str:
    """Record what certified the lists in their manifest and make them current."""
    cfg = cfg or settings()
    publish.certify(Path(staging), certification)
    return str(publish.publish(Path(staging), day, cfg))


def success_text(day: dt.date, target: Path) -> str:
    import json

    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    lines = [f"target lists for {day}: PUBLISHED ({target.name})"]
    for item in manifest["lists"]:
        lines.append(
            f"  {item['list_id']:<44} {item['rows']:>7,} rows, holdout {item['holdout_rows']:,},"
            f" +{item['diff']['added']:,} -{item['diff']['removed']:,}  ({item['owner_team']})"
        )
    return "\n".join(lines)


def report(cfg: Settings, day: dt.date, run_id: str, ok: bool, text: str) -> Path:
    """Write the run's summary file; on failure, call the alert hook with it."""
    path = publish.write_report(cfg, day, run_id, text)
    if not ok:
        alert(text, {"business_date": day.isoformat(), "run_id": run_id, "report": str(path)})
    return path


def alert(text: str, info: dict) -> None:
    """Call ``KAIROS_ALERT_HOOK`` (``module:function``, called with the summary text and a
    dict of details) -- where a team plugs in e-mail or IM. Without one, log an error."""
    hook = os.environ.get("KAIROS_ALERT_HOOK")
    if not hook:
        log.error("publishing failed:\n%s", text)
        return
    module, _, func = hook.partition(":")
    try:
        getattr(importlib.import_module(module), func)(text, info)
    except Exception:  # an alert hook must never hide the failure it reports
        log.exception("alert hook %s failed", hook)


def failure_text(cfg: Settings, day: dt.date, run_id: str, step: str, exc: BaseException) -> str:
    last = publish.latest_published(cfg)
    kept = f"{last[0]} ({last[1].name})" if last else "none yet"
    detail = (
        str(exc)
        if isinstance(exc, quality.GateFailed)
        else "".join(traceback.format_exception_only(type(exc), exc)).strip()
    )
    return (
        f"target lists for {day}: NOT PUBLISHED (run {run_id})\n"
        f"  failed step: {step}\n"
        f"  nothing new was published; current lists stay those of {kept}\n\n{detail}"
    )


@dataclass
class RunOutcome:
    ok: bool
    published: str | None
    report: Path


def run(
    day: dt.date,
    run_id: str = "manual",
    cfg: Settings | None = None,
    certification: dict | None = None,
) -> RunOutcome:
    """All four steps in one process (``kairos publish``)."""
    cfg = cfg or settings()
    step = "gate_warehouse"
    try:
        warehouse_gate = gate_warehouse(day, run_id, cfg)
        step = "build_lists"
        staging = stage_lists(day, run_id, cfg)
        step = "gate_lists"
        lists_gate = gate_lists(day, run_id, staging, cfg)
        step = "publish"
        target = publish_lists(
            day,
            run_id,
            staging,
            {**(certification or {}), "gates": [warehouse_gate, lists_gate], "run_id": run_id},
            cfg,
        )
    except Exception as exc:
        text = failure_text(cfg, day, run_id, step, exc)
        return RunOutcome(False, None, report(cfg, day, run_id, ok=False, text=text))
    text = success_text(day, Path(target))
    return RunOutcome(True, target, report(cfg, day, run_id, ok=True, text=text))
