"""Nothing grows without bound: sixty days of the files the daily run leaves behind,
aged as they would be, and the retention keeps only their windows -- working files for
KAIROS_WORK_RETENTION_DAYS, audit records for KAIROS_AUDIT_RETENTION_DAYS."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time

from kairos import retention
from kairos.config import Settings

DAY_S = 86400


def age(path, days: float, now: float) -> None:
    os.utime(path, (now - days * DAY_S, now - days * DAY_S))


def test_sixty_days_of_files_leave_only_the_retention_windows(tmp_path, monkeypatch):
    monkeypatch.setenv("KAIROS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAIROS_WORK_RETENTION_DAYS", "30")
    monkeypatch.setenv("KAIROS_AUDIT_RETENTION_DAYS", "45")
    cfg = Settings.from_env()
    now = time.time()
    start = dt.date(2026, 9, 1)
    for n in range(60):
        day = start + dt.timedelta(days=n)
        old = 59 - n + 0.5  # the files of day n were written (59 - n) days ago
        results = cfg.quality_dir / day.isoformat()
        results.mkdir(parents=True)
        for gate in ("warehouse", "target_lists"):
            (results / f"{gate}-run.json").write_text("{}")
            age(results / f"{gate}-run.json", old, now)
        page = cfg.quality_dir / "data_docs" / "validations" / f"s{n}" / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text("<html/>")
        age(page, old, now)
        logs = cfg.airflow_home / "logs" / "dag_id=build_warehouse" / f"run_id=r{n}"
        logs.mkdir(parents=True)
        (logs / "attempt=1.log").write_text("log")
        age(logs, old, now)
        for folder, name in (("_reports", f"{day}-r.txt"), ("_outcomes", f"{day}.json")):
            path = cfg.publish_dir / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")
            age(path, old, now)
    audit = cfg.portal_audit_log
    audit.parent.mkdir(parents=True)
    with audit.open("w") as fh:
        for n in range(60):
            at = dt.datetime.fromtimestamp(now - (59 - n + 0.5) * DAY_S, dt.UTC)
            fh.write(json.dumps({"at": at.isoformat(timespec="seconds"), "n": n}) + "\n")

    removed = retention.apply(cfg, now=now)

    assert removed["gate results"] == 2 * 30 and removed["airflow task logs"] == 30
    assert len(list(cfg.quality_dir.glob("20*"))) == 30  # emptied date folders went too
    assert len(list((cfg.quality_dir / "data_docs" / "validations").iterdir())) == 30
    assert len(list((cfg.airflow_home / "logs" / "dag_id=build_warehouse").iterdir())) == 30
    assert len(list((cfg.publish_dir / "_reports").iterdir())) == 45  # kept longer
    assert len(list((cfg.publish_dir / "_outcomes").iterdir())) == 45
    kept = [json.loads(line)["n"] for line in audit.read_text().splitlines()]
    assert kept == list(range(15, 60))
    assert oct(audit.stat().st_mode & 0o777) == "0o600"
    assert retention.apply(cfg, now=now) == dict.fromkeys(removed, 0)  # idempotent


WRITER = """
import sys
from kairos import portal
from kairos.config import Settings
cfg = Settings.from_env()
for i in range(int(sys.argv[1])):
    portal.audit(cfg, {"event": "download", "i": i})
print("done", flush=True)
"""


def test_the_audit_trim_loses_no_line_a_portal_writes_meanwhile(tmp_path):
    """portal x retention: a real process appends 400 audit lines while the retention
    trims the log again and again; every line the portal wrote is there at the end."""
    home = tmp_path / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KAIROS_")},
        "KAIROS_HOME": str(home),
    }
    cfg = Settings.from_env(env)
    cfg.portal_audit_log.parent.mkdir(parents=True)
    stale = dt.datetime(2020, 1, 1, tzinfo=dt.UTC).isoformat(timespec="seconds")
    cfg.portal_audit_log.write_text(json.dumps({"at": stale, "old": True}) + "\n")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, "400"], env=env, stdout=subprocess.PIPE, text=True
    )
    trims = 0
    while writer.poll() is None:
        retention.trim_jsonl(cfg.portal_audit_log, time.time() - 400 * DAY_S)
        trims += 1
    assert writer.wait() == 0
    lines = [json.loads(x) for x in cfg.portal_audit_log.read_text().splitlines()]
    assert sorted(x["i"] for x in lines if "i" in x) == list(range(400)), trims
    assert not any(x.get("old") for x in lines)
