"""The publishing steps, defined once (:data:`PUBLISH_STEPS`): gate the warehouse ->
build the lists -> gate the lists -> publish. The publish DAG runs them in one task;
``kairos publish`` runs them in one process (:func:`run`). Every step reads
the analysts' snapshot, never the live warehouse file, so publishing never waits for (or
blocks) a writer.

What a failure withholds is what it judged:

* the **warehouse gate** (raw extracts and key marts) or a list check that concerns
  every list (masking, pseudonyms) fails: nothing new is published, ``lists/<date>`` and
  ``current`` keep pointing at the last good lists;
* a **list-level** check fails (policy, counts, volume against the list's own recent
  history): that list only is withheld -- marked so in the manifest, the report and the
  outcome, with the check, the observed and the allowed figures -- and the others publish.

Each run leaves a human-readable report in ``publish/_reports`` and an outcome in
``publish/_outcomes/<date>.json`` (what the portal shows for the date).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from kairos import alerts, publish, quality, retention
from kairos.config import Settings
from kairos.files import relative
from kairos.pipeline.build import Step, check_snapshot, run_steps
from kairos.publish import approval
from kairos.publish.outcomes import read_outcome, write_outcome
from kairos.warehouse.store import GAP_EFFECT, history_gaps

log = logging.getLogger(__name__)

WAREHOUSE_SUITES = ("raw_extracts", "marts")
LIST_SUITES = ("target_lists",)


def _database(cfg: Settings) -> Path:
    path = cfg.snapshot
    if not path.exists():
        raise FileNotFoundError(
            f"no warehouse snapshot at {path}: build_warehouse publishes one after each build"
            " (or run `kairos build`)"
        )
    return path


def _gate_info(result: quality.GateResult) -> dict:
    return {"gate": result.gate, "success": result.success, "result": result.result_path}


def gate_warehouse(cfg: Settings, day: dt.date, run_id: str) -> dict:
    """GX suites on the raw extracts and the key marts of ``day``; raises GateFailed."""
    suites = [s for module in WAREHOUSE_SUITES for s in quality.load_suites(cfg, module)]
    result = quality.run_gate(cfg, "warehouse", suites, day, run_id=run_id, database=_database(cfg))
    return _gate_info(result)


def build_record(cfg: Settings, day: dt.date) -> dict:
    """The build that made the data the lists come from: the latest successful
    ``build_warehouse`` run for the date in the snapshot's build ledger, and the dates of
    its trailing history it was built without (``history_gaps``; empty when whole)."""
    with duckdb.connect(str(_database(cfg)), read_only=True) as con:
        row = con.execute(
            "select dag_run_id, finished_at, message from audit.build_ledger"
            " where business_date = ? and status = 'built' order by finished_at desc limit 1",
            [day],
        ).fetchone()
        gaps = history_gaps(con, day)
    if row is None:
        raise FileNotFoundError(f"the snapshot records no successful build of {day}")
    run_id, finished_at, message = row
    return {
        "build_run_id": run_id,
        "built_at": finished_at.isoformat(timespec="seconds"),
        "note": message or "",
        "history_gaps": gaps,
        **({"history_gaps_effect": GAP_EFFECT} if gaps else {}),
    }


def stage_lists(cfg: Settings, day: dt.date, run_id: str) -> str:
    """Build the day's lists into a fresh staging directory; returns its path."""
    staging = publish.staging_dir(cfg, day, run_id)
    publish.discard(staging)  # a retried task starts over
    publish.build_lists(cfg, day, staging, database=_database(cfg))
    return str(staging)


def gate_lists(
    cfg: Settings, day: dt.date, run_id: str, staging: str
) -> tuple[dict, dict[str, list[str]]]:
    """GX suites on the staged lists. Raises GateFailed when a check that concerns every
    list fails; otherwise returns the gate and the lists to withhold, with the reasons."""
    suites = [s for module in LIST_SUITES for s in quality.load_suites(cfg, module)]
    result = quality.run_gate(
        cfg,
        "target_lists",
        suites,
        day,
        run_id=run_id,
        params={"lists_dir": staging},
        database=_database(cfg),
        raise_on_failure=False,
    )
    if not result.gate_level_success:
        # a list refused as a whole (an unmasked number, a bare customer id) goes at once:
        # its staging folder was private (0700) and is not kept for anyone to find
        publish.discard(Path(staging))
        raise quality.GateFailed(result)
    return _gate_info(result), result.withheld_lists()


def publish_lists(cfg: Settings, day: dt.date, run_id: str, state: dict) -> dict:
    """Withhold the lists the gate refused, record what certified the rest in the
    manifest, make them current, and write the report and the outcome."""
    staging = Path(state["staging"])
    withheld: dict[str, list[str]] = state.get("withheld") or {}
    publish.withhold(staging, withheld)
    publish.certify(
        staging,
        {
            "dbt": build_record(cfg, day),
            "gates": [state["warehouse_gate"], state["lists_gate"]],
            "run_id": run_id,
        },
    )
    policies = approval.rule_policies(_database(cfg))
    # the decisions carried over are read from the version this one replaces: under the
    # publish lock, so no other run or decision changes it in between
    with publish.publish_lock(cfg, f"publishing {day} (run {run_id})"):
        approval.apply_policies(staging, policies, publish.published_dir(cfg, day))
        target = publish.publish(cfg, staging, day)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    lists = {item["list_id"]: item for item in manifest["lists"]}
    published = [i for i, item in lists.items() if item["status"] != "withheld"]
    status = "published" if not withheld else ("partial" if published else "withheld")
    pending = [i for i, item in lists.items() if item["status"] == approval.PENDING]
    text = success_text(day, target, manifest)
    path = report(cfg, day, run_id, text)
    write_outcome(
        cfg,
        day,
        {
            "status": status,
            "run_id": run_id,
            "version": target.name,
            "report": relative(path, cfg.home),
            "reason": "; ".join(
                x
                for x in (
                    f"{len(withheld)} list(s) withheld by the list gate" if withheld else "",
                    f"{len(pending)} list(s) pending their team's approval" if pending else "",
                )
                if x
            ),
            "lists": {
                i: {"status": item["status"], "reasons": item.get("withheld_reasons", [])}
                for i, item in sorted(lists.items())
            },
            "history_gaps": manifest["certified_by"]["dbt"].get("history_gaps", []),
        },
    )
    retention.apply(cfg)  # working files and audit records past their days (kairos.retention)
    if withheld:
        alerts.send(
            cfg,
            text,
            {
                "business_date": day.isoformat(),
                "run_id": run_id,
                "report": relative(path, cfg.home),
            },
            severity="warning",
        )
    return {"published": str(target), "status": status}


def success_text(day: dt.date, target: Path, manifest: dict) -> str:
    withheld = [i for i in manifest["lists"] if i["status"] == "withheld"]
    head = "PUBLISHED" if not withheld else f"PUBLISHED, {len(withheld)} list(s) WITHHELD"
    lines = [f"target lists for {day}: {head} ({target.name})"]
    gaps = manifest.get("certified_by", {}).get("dbt", {}).get("history_gaps") or []
    if gaps:
        dates = ", ".join(f"{g['date']} ({g['status']})" for g in gaps)
        lines.append(f"  BUILT OVER MISSING DATES: {dates} -- windows and projections miss them")
    for item in manifest["lists"]:
        if item["status"] == "withheld":
            lines.append(f"  {item['list_id']:<44} WITHHELD  ({item['owner_team']})")
            lines.extend(f"      {reason}" for reason in item["withheld_reasons"])
            continue
        waits = "  PENDING APPROVAL" if item["status"] == approval.PENDING else ""
        lines.append(
            f"  {item['list_id']:<44} {item['rows']:>7,} rows, holdout {item['holdout_rows']:,},"
            f" +{item['diff']['added']:,} -{item['diff']['removed']:,}  ({item['owner_team']})"
            f"{waits}"
        )
    return "\n".join(lines)


def report(cfg: Settings, day: dt.date, run_id: str, text: str) -> Path:
    """Keep the run's human-readable summary."""
    return publish.write_report(cfg, day, run_id, text)


def short_reason(exc: BaseException) -> str:
    """One line for the portal and the outcome: the gate's failed checks, or the error."""
    if isinstance(exc, quality.GateFailed):
        return exc.result.headline()
    return "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[0]


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


def _failure(step_name: str) -> Callable[[Step], Step]:
    """Record the outcome and the report when a publishing step fails, then re-raise:
    nothing new is published and the current lists stay."""

    def wrap(step: Step) -> Step:
        def guarded(cfg: Settings, day: dt.date, run_id: str, state: dict) -> dict:
            try:
                return step(cfg, day, run_id, state)
            except Exception as exc:
                withheld = type(exc).__name__ == "GateFailed"
                text = failure_text(cfg, day, run_id, step_name, exc)
                kept = report(cfg, day, run_id, text)
                write_outcome(
                    cfg,
                    day,
                    {
                        "status": "withheld" if withheld else "failed",
                        "run_id": run_id,
                        "step": step_name,
                        "reason": short_reason(exc),
                        "report": relative(kept, cfg.home),
                        "lists": {},
                    },
                )
                raise

        guarded.__name__ = step_name
        return guarded

    return wrap


@_failure("gate_warehouse")
def _gate_warehouse(cfg: Settings, day: dt.date, run_id: str, state: dict) -> dict:
    check_snapshot(cfg, day)
    return {"warehouse_gate": gate_warehouse(cfg, day, run_id)}


@_failure("build_lists")
def _build_lists(cfg: Settings, day: dt.date, run_id: str, state: dict) -> dict:
    return {"staging": stage_lists(cfg, day, run_id)}


@_failure("gate_lists")
def _gate_lists(cfg: Settings, day: dt.date, run_id: str, state: dict) -> dict:
    gate, withheld = gate_lists(cfg, day, run_id, state["staging"])
    return {"lists_gate": gate, "withheld": withheld}


@_failure("publish")
def _publish(cfg: Settings, day: dt.date, run_id: str, state: dict) -> dict:
    return publish_lists(cfg, day, run_id, state)


PUBLISH_STEPS: tuple[tuple[str, Step], ...] = (
    ("gate_warehouse", _gate_warehouse),
    ("build_lists", _build_lists),
    ("gate_lists", _gate_lists),
    ("publish", _publish),
)


@dataclass
class RunOutcome:
    ok: bool
    published: str | None
    report: Path | None
    status: str


def run(cfg: Settings, day: dt.date, run_id: str) -> RunOutcome:
    """Every publishing step for ``day`` in this process (``kairos publish``); a failure
    calls the alert hook, as Airflow's failure callback does for the DAG."""
    try:
        state = run_steps(PUBLISH_STEPS, cfg, day, run_id)
    except Exception as exc:
        outcome = read_outcome(cfg, day) or {}
        report_path = cfg.home / outcome["report"] if outcome.get("report") else None
        text = (
            report_path.read_text(encoding="utf-8")
            if report_path
            else f"target lists for {day}: NOT PUBLISHED\n  {short_reason(exc)}"
        )
        alerts.send(cfg, text, {"business_date": day.isoformat(), "run_id": run_id})
        return RunOutcome(False, None, report_path, outcome.get("status", "failed"))
    outcome = read_outcome(cfg, day) or {}
    return RunOutcome(True, state["published"], cfg.home / outcome["report"], state["status"])
