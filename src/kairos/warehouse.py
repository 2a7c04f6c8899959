"""Building the warehouse with dbt: the programmatic runner, under the writer lock.

``build(business_date)`` runs ``dbt seed`` and ``dbt build`` layer by layer (staging,
intermediate, marts) for one business date, as the ``build_warehouse`` DAG does task by
task. Without a date it rebuilds every date in raw (a full refresh of the incremental
models). A failing model or a failing test of severity error raises ``DbtBuildError``
naming the failed nodes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from kairos.config import Settings
from kairos.ingest.warehouse import ensure_schema, open_warehouse, writer_lock

log = logging.getLogger(__name__)

LAYERS = ("staging", "intermediate", "marts")


class DbtBuildError(RuntimeError):
    """dbt reported a failed model or test."""


@dataclass(frozen=True)
class StepResult:
    command: str
    nodes: int
    failures: list[str]
    seconds: float


PROFILE = """# written by kairos for each dbt run, from its Settings (do not edit)
kairos:
  target: duckdb
  outputs:
    duckdb:
      type: duckdb
      path: {path}
      threads: 2
"""


def _profiles_dir(cfg: Settings) -> Path:
    """A profiles.yml naming this installation's warehouse, so dbt needs no environment
    variable (the committed profiles.yml is for running dbt by hand in the checkout)."""
    folder = cfg.home / "dbt"
    folder.mkdir(parents=True, exist_ok=True)
    text = PROFILE.format(path=json.dumps(str(cfg.warehouse)))
    path = folder / "profiles.yml"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        part = folder / f".profiles.yml.{os.getpid()}.part"
        part.write_text(text, encoding="utf-8")
        part.replace(path)
    return folder


def _release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after a run.

    dbt-duckdb caches its environment (and so the open database file) at class level for
    reuse across invocations. The writer lock must mean "this process no longer has the
    file open", or the next writer -- another process, or a read-only connection here --
    would fail on DuckDB's own lock.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if env is not None:
        env.close()


def dbt(
    cfg: Settings,
    args: list[str],
    business_date: dt.date | None = None,
    full_refresh: bool = False,
) -> StepResult:
    """Run one dbt command against the warehouse, holding the writer lock."""
    from dbt.cli.main import dbtRunner

    argv = [
        *args,
        "--project-dir",
        str(cfg.project_dir),
        "--profiles-dir",
        str(_profiles_dir(cfg)),
        "--target-path",
        str(cfg.dbt_target_dir),
        "--log-path",
        str(cfg.dbt_log_dir),
        "--vars",
        json.dumps({"business_date": business_date.isoformat() if business_date else None}),
        # the whole log goes to $KAIROS_HOME/dbt/logs/dbt.log; the console hears warnings
        "--log-level",
        "warn",
        "--log-level-file",
        "info",
    ]
    if full_refresh:
        argv.append("--full-refresh")
    cfg.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(cfg.writer_lock, cfg.writer_lock_timeout_s):
        # wait out a foreign process holding the file, and make sure the raw and audit
        # schemas exist before dbt reads them
        con = open_warehouse(cfg)
        try:
            ensure_schema(con)
        finally:
            con.close()
        started = dt.datetime.now()
        try:
            result = dbtRunner().invoke(argv)
        finally:
            _release_duckdb()
        seconds = (dt.datetime.now() - started).total_seconds()
    if result.exception is not None:
        raise DbtBuildError(f"dbt {' '.join(args)} failed: {result.exception}")
    failures = []
    nodes = 0
    for r in getattr(result.result, "results", None) or []:
        nodes += 1
        status = str(getattr(r, "status", "")).lower()
        if status in ("error", "fail", "runtimeerr"):
            failures.append(f"{r.node.unique_id}: {status} {r.message or ''}".strip())
    step = StepResult(" ".join(args), nodes, failures, seconds)
    if failures or not result.success:
        raise DbtBuildError(
            f"dbt {' '.join(args)} for {business_date or 'all dates'}: "
            f"{len(failures)} failed\n  " + "\n  ".join(failures)
        )
    log.info("dbt %s: %d nodes in %.1fs", step.command, nodes, seconds)
    return step


def seed(cfg: Settings) -> StepResult:
    """Load the reference seeds (and test them).

    Seeds are small and always reloaded whole (``--full-refresh``), so a column added to a
    seed file reaches the warehouse without a manual step; only tests whose every parent
    is a seed run here (``cautious``), the others with their model's layer."""
    return dbt(
        cfg,
        [
            "build",
            "--select",
            "resource_type:seed",
            "--indirect-selection",
            "cautious",
            "--full-refresh",
        ],
    )


def build_layer(
    cfg: Settings,
    layer: str,
    business_date: dt.date | None,
    full_refresh: bool = False,
) -> StepResult:
    """``dbt build`` (models and their tests) of one layer for a business date."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}")
    return dbt(
        cfg,
        ["build", "--select", layer, "--exclude", "resource_type:seed"],
        business_date,
        full_refresh,
    )


def build(
    cfg: Settings, business_date: dt.date | None, full_refresh: bool = False
) -> list[StepResult]:
    """Seeds, then every layer in order, for one business date (or all dates)."""
    steps = [seed(cfg)]
    for layer in LAYERS:
        steps.append(build_layer(cfg, layer, business_date, full_refresh))
    return steps


DOCS_FILES = ("index.html", "manifest.json", "catalog.json")


def docs(cfg: Settings) -> Path:
    """Generate the dbt docs site; returns the folder holding index.html.

    The site served (``cfg.docs_site_dir``) is a copy of dbt's three files in which the
    server's absolute paths (the project, the data root, the warehouse) are replaced by
    relative names: teams read the lineage, not the server's layout."""
    from kairos.files import write_atomic

    dbt(cfg, ["docs", "generate"])
    site = cfg.docs_site_dir
    site.mkdir(parents=True, exist_ok=True)
    replacements = sorted(
        {
            str(cfg.warehouse.resolve()): cfg.warehouse.name,
            str(cfg.warehouse): cfg.warehouse.name,
            str(cfg.project_dir): ".",
            str(cfg.home): "$KAIROS_HOME",
        }.items(),
        key=lambda kv: -len(kv[0]),  # the longest path first
    )
    for name in DOCS_FILES:
        text = (cfg.dbt_target_dir / name).read_text(encoding="utf-8")
        if name.endswith(".json"):
            for absolute, shown in replacements:
                text = text.replace(absolute, shown)
        write_atomic(site / name, text, encoding="utf-8")
    return site


def snapshot(cfg: Settings) -> Path:
    """Publish a read-only snapshot of the warehouse: checkpoint, copy, atomic swap.

    Taken under the writer lock after a whole day is built, so it never holds a half-built
    day. Readers open the snapshot, never the live file: an analyst's open session holds
    the previous snapshot's inode (the swap is a rename) and never blocks the pipeline.
    """
    import shutil

    from kairos.files import sweep_dead

    target = cfg.snapshot
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_dead(target.parent, f".{target.name}.*.part")  # copies of killed snapshots
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    with writer_lock(cfg.writer_lock, cfg.writer_lock_timeout_s):
        con = open_warehouse(cfg)
        try:
            con.execute("checkpoint")  # fold the WAL into the file before copying it
        finally:
            con.close()
        shutil.copyfile(cfg.warehouse, part)
    with part.open("rb") as fh:
        os.fsync(fh.fileno())
    os.chmod(part, 0o444)
    os.replace(part, target)
    log.info("snapshot %s (%d MiB)", target, target.stat().st_size >> 20)
    return target
