"""Approval before a list goes live (issue 12, part 4).

A certified list goes live only once its owner team approves it in the portal, unless its
rule's policy says it approves itself: ``approval`` in the warning-rule catalogue is
``auto`` for the service notices (low balance, payment due, arrears, care) and
``owner_team`` for marketing. Publishing marks a list that waits ``pending_approval``:
its files are in the published version, but nobody can download them and CRM does not
execute them. A decision rewrites the version's manifest -- and only the manifest; the
list files stay as certified -- under a lock, atomically:

* **approve** -> status ``published``; the approval (who, team, when, comment) is kept;
* **reject** -> status ``withheld``, with ``rejected by <user>: <comment>`` as its reason.

A phone manager's call sheet has no decision of its own: it goes live when every list
whose calls are on it is live, and is withheld with any of them
(:func:`kairos.publish.settle_call_sheets`). Either decision is final for that version and
audited (``publish/_audit/downloads.jsonl``, the
portal's audit). A republished date is a new version: a list whose CSV is byte-identical
to the one decided in the version before keeps that decision; a changed list waits again.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import duckdb

from kairos import publish
from kairos.config import Settings
from kairos.files import write_json
from kairos.publish.outcomes import read_outcome, write_outcome

POLICIES = ("auto", "owner_team")
MAX_COMMENT = 500
PENDING = "pending_approval"


class DecisionRefused(Exception):
    """A decision that cannot be taken: ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def rule_policies(database: Path) -> dict[str, str]:
    """rule_code -> approval policy, from the catalogue in the warehouse (snapshot)."""
    with duckdb.connect(str(database), read_only=True) as con:
        return dict(
            con.execute("select rule_code, approval from reference.warning_rules").fetchall()
        )


def _csv_sha(item: dict) -> str | None:
    return item.get("files", {}).get("csv", {}).get("sha256")


def apply_policies(staging: Path, policies: dict[str, str], previous: Path | None) -> None:
    """Mark each certified list of the staged manifest auto-approved or pending, carrying
    over the decision on an identical list of the date's previous version (``previous``,
    its directory, or None)."""
    path = staging / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    decided: dict[str, dict] = {}
    if previous is not None and (previous / "manifest.json").exists():
        for item in json.loads((previous / "manifest.json").read_text(encoding="utf-8"))["lists"]:
            if item.get("approval", {}).get("state") in ("approved", "rejected"):
                decided[item["list_id"]] = item
    for item in manifest["lists"]:
        if item["status"] != "published":
            continue  # withheld by the gate: nothing to approve
        policy = policies.get(item["rule_code"], "owner_team")  # unknown: a person decides
        if policy == "auto":
            item["approval"] = {"policy": "auto", "state": "auto_approved"}
            continue
        before = decided.get(item["list_id"])
        if before is not None and _csv_sha(before) == _csv_sha(item):
            _record(item, {**before["approval"], "carried_from": previous.name})
            continue
        item["status"] = PENDING
        item["approval"] = {"policy": "owner_team", "state": "pending"}
    publish.settle_call_sheets(manifest)
    write_json(path, manifest)


def _record(item: dict, approval: dict) -> None:
    item["approval"] = approval
    if approval["state"] == "approved":
        item["status"] = "published"
    else:
        item["status"] = "withheld"
        item["withheld_reasons"] = [f"rejected by {approval['by']}: {approval['comment']}"]


# a mobile number typed into a comment is stored masked, as everywhere else
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def clean_comment(comment: str) -> str:
    """The comment as stored: control characters out, whitespace collapsed, mobile
    numbers masked (138****1234), bounded."""
    text = "".join(ch if ch.isprintable() else " " for ch in comment)
    text = _PHONE.sub(lambda m: f"{m[1]}****{m[3]}", " ".join(text.split()))
    return text[:MAX_COMMENT]


def decide(
    cfg: Settings,
    day: dt.date,
    list_id: str,
    user: str,
    team: str,
    decision: str,
    comment: str = "",
) -> dict:
    """Approve or reject a pending list of ``team``; returns the list's manifest entry.

    Raises DecisionRefused: 404 for a list that is not the team's (or not there at all:
    the portal never confirms another team's list exists), 409 for one not pending, 422
    for a rejection without a comment or an unknown decision."""

    if decision not in ("approve", "reject"):
        raise DecisionRefused("unknown decision", 422)
    text = clean_comment(comment)
    if decision == "reject" and not text:
        raise DecisionRefused("a rejection needs a comment saying why", 422)
    with publish.publish_lock(cfg, f"{user}'s decision on {list_id} of {day}"):
        directory = publish.published_dir(cfg, day)
        if directory is None:
            raise DecisionRefused("not found", 404)
        path = directory / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        item = next(
            (i for i in manifest["lists"] if i["list_id"] == list_id and i["owner_team"] == team),
            None,
        )
        if item is None:
            raise DecisionRefused("not found", 404)
        if item["status"] != PENDING:
            raise DecisionRefused(f"the list is {item['status']}, not pending approval", 409)
        _record(
            item,
            {
                "policy": "owner_team",
                "state": "approved" if decision == "approve" else "rejected",
                "by": user,
                "team": team,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "comment": text,
            },
        )
        publish.settle_call_sheets(manifest)  # a sheet goes live with its lists
        write_json(path, manifest)
        outcome = read_outcome(cfg, day)
        if outcome is not None and outcome.get("version") == directory.name:
            outcome.setdefault("lists", {})[list_id] = {
                "status": item["status"],
                "reasons": item.get("withheld_reasons", []),
            }
            write_outcome(cfg, day, outcome)
    return item


def history(cfg: Settings, list_id: str, before: dt.date, days: int = 30) -> list[dict]:
    """The list's size on each of the ``days`` published dates before ``before``, oldest
    first: {date, rows, status} (a date the list was not on is left out)."""
    out = []
    dates = [d for d in publish.published_dates(cfg) if d < before][-days:]
    for d in dates:
        directory = publish.published_dir(cfg, d)
        if directory is None or not (directory / "manifest.json").exists():
            continue
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        item = next((i for i in manifest["lists"] if i["list_id"] == list_id), None)
        if item is not None and "rows" in item:
            out.append({"date": d.isoformat(), "rows": item["rows"], "status": item["status"]})
    return out


def preview(cfg: Settings, day: dt.date, item: dict) -> dict:
    """What an approver sees: the size against yesterday and the list's own trailing
    average, suppressions by reason, the holdout share, and the last 30 dates."""
    past = history(cfg, item["list_id"], day)
    rows = item.get("rows", 0)
    yesterday = past[-1]["rows"] if past else None
    trailing = past[-7:]
    average = sum(p["rows"] for p in trailing) / len(trailing) if trailing else None
    return {
        "rows": rows,
        "yesterday": yesterday,
        "change_vs_yesterday": None if not yesterday else rows / yesterday - 1,
        "trailing_average": average,
        "trailing_days": len(trailing),
        "change_vs_average": None if not average else rows / average - 1,
        "suppressed": dict(sorted(item.get("suppressed", {}).items(), key=lambda kv: -kv[1])),
        "holdout_rows": item.get("holdout_rows", 0),
        "holdout_share": item.get("holdout_share", 0.0),
        "holdout_pct": item.get("holdout_pct"),
        "history": [*past, {"date": day.isoformat(), "rows": rows, "status": item["status"]}],
    }


def approve_pending(cfg: Settings, day: dt.date, user: str, comment: str) -> list[str]:
    """Approve every list of ``day`` still pending, each for its owner team, as ``user``;
    returns the lists approved. For the soak and the tests, which play the teams; a team
    decides in the portal."""
    directory = publish.published_dir(cfg, day)
    if directory is None:
        return []
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    done = []
    for item in manifest["lists"]:
        if item["status"] == PENDING:
            decide(cfg, day, item["list_id"], user, item["owner_team"], "approve", comment)
            done.append(item["list_id"])
    return done
