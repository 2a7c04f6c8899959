"""Building the warehouse with dbt: the programmatic runner, under the writer lock.

``build(business_date)`` runs ``dbt seed`` and one ``dbt build`` of the three layers
(staging, intermediate, marts) for one business date, as the ``build_warehouse`` DAG
does. Without a date it rebuilds every date in raw (a full refresh of the incremental
models). A failing model or a failing test of severity error raises ``DbtBuildError``
naming the failed nodes.

The models' checks are contract constraints (see
``dbt_project/macros/tests/constraints_hold.sql``). DuckDB enforces them as the tables
are written, so a broken one fails its model, and the error names the model, each broken
constraint and how many rows break it -- counts only: DuckDB's own message may quote the
offending values, and none reaches a log, a ledger or an error (:func:`redact_values`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from kairos.config import Settings, environment_variable
from kairos.files import write_atomic
from kairos.warehouse import snapshot as snapshots
from kairos.warehouse.store import connect_writer, ensure_schema, open_warehouse, writer_lock

log = logging.getLogger(__name__)

LAYERS = ("staging", "intermediate", "marts")
# Which tests a layer's build runs beside its models (dbt's indirect selection). Staging:
# every test of a staging model (eager), those that also read a seed included (loaded
# first). Later layers: a test once all its parents are built (buildable) -- a test
# reading the intermediate layer and the marts runs with the marts, not before them.
# Excluding the seeds instead would drop every test that reads one (the contact-policy
# assertion among them) from every build.
INDIRECT_SELECTION = {"staging": "eager", "intermediate": "buildable", "marts": "buildable"}


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
      settings:
        enable_progress_bar: false
"""
# KAIROS_DUCKDB_MEMORY_LIMIT caps the build as it caps ingestion (DuckDB spills beyond it);
# no progress bar: DuckDB would draw it into the task's log (ingest.warehouse.quiet)
PROFILE_SETTINGS = """        memory_limit: {memory_limit}
"""


def _profiles_dir(cfg: Settings) -> Path:
    """A profiles.yml naming this installation's warehouse, so dbt needs no environment
    variable (the committed profiles.yml is for running dbt by hand in the checkout)."""
    folder = cfg.home / "dbt"
    folder.mkdir(parents=True, exist_ok=True)
    text = PROFILE.format(path=json.dumps(str(cfg.warehouse)))
    if cfg.duckdb_memory_limit:
        text += PROFILE_SETTINGS.format(memory_limit=json.dumps(cfg.duckdb_memory_limit))
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
    # lazy: dbt takes seconds to import; it loads when a dbt command runs
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if env is not None:
        env.close()


BUSINESS_DATE_ENV = "KAIROS_BUSINESS_DATE"

# DuckDB quotes a row's values in some errors: a repeated key (`duplicate key "1001,
# 2026-11-15"`), a failed cast (`Could not convert string 'x' to INT32`). Such a quote
# never reaches dbt's log, the console, a ledger or an error: only what the project says.
_QUOTED_VALUES = re.compile(r"""(duplicate key |Could not convert string |value )(["'])(.*?)\2""")
# dbt's two loggers (dbt_common): the console's and the file's, configured anew by each
# invocation -- their handlers, not the filters set on them here
DBT_LOGGERS = ("stdout_log", "file_log")


def redact_values(text: str) -> str:
    """``text`` with the data values DuckDB's errors quote replaced by ``…``."""
    return _QUOTED_VALUES.sub(lambda m: f"{m.group(1)}{m.group(2)}…{m.group(2)}", text)


class _RedactValues(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_values(record.msg)
        return True


def _redact_dbt_logs() -> None:
    for name in DBT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactValues) for f in logger.filters):
            logger.addFilter(_RedactValues())


def dbt(
    cfg: Settings,
    args: list[str],
    business_date: dt.date | None = None,
    full_refresh: bool = False,
    writes_models: bool = False,
) -> StepResult:
    """Run one dbt command against the warehouse, holding the writer lock. A command that
    ``writes_models`` is recorded in ``audit.dbt_invocations`` before it starts."""
    # lazy: dbt takes seconds to import; it loads when a dbt command runs
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
            if writes_models:
                con.execute(
                    "insert into audit.dbt_invocations"
                    " values (uuid()::varchar, ?, ?, ?, current_timestamp::timestamp)",
                    [" ".join(args)[:500], business_date, full_refresh],
                )
        finally:
            con.close()
        started = dt.datetime.now()
        try:
            # the date, for the project's business_date() macro: read when a node runs,
            # not a --vars value, with which dbt parses the whole project again whenever
            # it changes -- every day (5 s); unset, a full build
            day = business_date.isoformat() if business_date else None
            _redact_dbt_logs()
            with environment_variable(BUSINESS_DATE_ENV, day):
                result = dbtRunner().invoke(argv)
        finally:
            _release_duckdb()
        seconds = (dt.datetime.now() - started).total_seconds()
        if result.exception is not None:
            raise DbtBuildError(
                f"dbt {' '.join(args)} failed: {redact_values(str(result.exception))}"
            )
        failures = []
        nodes = 0
        for r in getattr(result.result, "results", None) or []:
            nodes += 1
            status = str(getattr(r, "status", "")).lower()
            if status in ("error", "fail", "runtimeerr"):
                # a node's result names its node; run-operation's names only itself
                node = getattr(r, "node", None)
                unique_id = getattr(node, "unique_id", None) or getattr(r, "unique_id", "operation")
                message = redact_values(r.message or "")
                if status == "fail":
                    message += _broken_constraints(cfg, node)
                elif "Constraint Error" in message:
                    # DuckDB refused the model's rows: say which constraints they break
                    message = "a row breaks its contract" + _broken_constraints(cfg, node)
                failures.append(f"{unique_id}: {status} {message}".strip())
    step = StepResult(" ".join(args), nodes, failures, seconds)
    if failures or not result.success:
        raise DbtBuildError(
            f"dbt {' '.join(args)} for {business_date or 'all dates'}: "
            f"{len(failures)} failed\n  " + "\n  ".join(failures)
        )
    log.info("dbt %s: %d nodes in %.1fs", step.command, nodes, seconds)
    return step


def _constraint_counts(model: dict) -> tuple[list[tuple[str, str]], list[tuple[str, list]]]:
    """The counts that check a model's declared constraints, as the constraints_hold test
    takes them: (name, condition) for the rows that break a not_null or a check, and
    (name, columns) for a key that must not repeat (a row key: two empty values equal, see
    macros/row_keys.sql). ``model`` is a manifest node."""
    counts: list[tuple[str, str]] = []
    keys: list[tuple[str, list]] = []
    for column in model.get("columns", {}).values():
        checks = 0
        for constraint in column.get("constraints") or []:
            kind, name = constraint.get("type"), column["name"]
            if kind == "not_null":
                counts.append((f"{name}__not_null", f"{name} is null"))
            elif kind == "check":
                checks += 1
                counts.append((f"{name}__check_{checks}", f"not ({constraint['expression']})"))
            elif kind in ("unique", "primary_key"):
                keys.append((f"{name}__unique", [name]))
    for constraint in model.get("constraints") or []:
        columns = list(constraint.get("columns") or [])
        if constraint.get("type") == "primary_key":
            named = {name for name, _ in counts}
            counts += [
                (f"{c}__not_null", f"{c} is null") for c in columns if f"{c}__not_null" not in named
            ]
            keys.append(("primary_key__duplicates", columns))
        elif constraint.get("type") == "unique":
            keys.append(("__".join(columns) + "__unique", columns))
    meta = model.get("config", {}).get("meta") or model.get("meta") or {}
    for n, columns in enumerate(meta.get("row_keys") or [], start=1):
        keys.append((f"row_key_{n}__repeated", list(columns)))
    return counts, keys


def _describe(model: dict, name: str, count: int) -> str:
    """One broken constraint in words, from its count's name (see _constraint_counts)."""
    rows = f"{count:,} row{'s' if count != 1 else ''}"
    keys = f"{count:,} key{'s' if count != 1 else ''}"
    column, _, kind = name.rpartition("__")
    if kind == "not_null":
        return f"{column} null in {rows}"
    if kind.startswith("check_"):
        checks = [
            c["expression"]
            for c in model.get("columns", {}).get(column, {}).get("constraints") or []
            if c.get("type") == "check"
        ]
        n = int(kind.split("_")[1])
        expression = checks[n - 1] if n <= len(checks) else kind
        return f"{column} breaks check ({expression}) in {rows}"
    if kind == "duplicates":
        columns = next(
            (
                c.get("columns")
                for c in model.get("constraints") or []
                if c.get("type") == "primary_key"
            ),
            [],
        )
        return f"primary key ({', '.join(columns)}) repeated: {keys}"
    if kind == "unique":
        return f"{column.replace('__', ', ')} not unique: {keys}"
    if kind == "repeated":
        meta = model.get("config", {}).get("meta") or model.get("meta") or {}
        n = int(column.removeprefix("row_key_"))
        return f"row key ({', '.join(meta['row_keys'][n - 1])}) repeated: {keys}"
    return f"{name}: {count:,}"


def _model_of(cfg: Settings, node) -> dict | None:
    """The manifest node of a failed node's model: the node itself for a model, the model
    it tests for a test (from the manifest dbt wrote before running)."""
    if node.resource_type == "model":
        return node.to_dict()
    try:
        with (cfg.dbt_target_dir / "manifest.json").open(encoding="utf-8") as f:
            return json.load(f)["nodes"].get(node.attached_node)
    except (OSError, ValueError, KeyError):
        return None


def _broken_constraints(cfg: Settings, node) -> str:
    """For a model whose rows DuckDB refused, or a failed constraints_hold test: which of
    the model's constraints break, and in how many rows, e.g. ``"; broken: tag_value
    null in 2 rows, primary key (business_date, customer_id) repeated: 1 key"``. Counted
    again from the model's query (a test's: from its own failing row). Empty for any
    other node, or when the counts cannot be read again."""
    metadata = getattr(node, "test_metadata", None)
    is_test = getattr(metadata, "name", None) == "constraints_hold"
    sql = getattr(node, "compiled_code", None)
    if not sql or not (is_test or getattr(node, "resource_type", None) == "model"):
        return ""
    model = _model_of(cfg, node)
    if model is None:
        return ""
    if not is_test:
        counts, keys = _constraint_counts(model)
        selects = [f"sum(case when {cond} then 1 else 0 end) as {name}" for name, cond in counts]
        for name, cols in keys:
            present = " and ".join(f"{c} is not null" for c in cols)
            where = "" if name.startswith("row_key_") else f" where {present}"
            selects.append(
                f"(select count(*) from (select 1 from checked{where}"
                f" group by {', '.join(cols)} having count(*) > 1) as repeated) as {name}"
            )
        if not selects:
            return ""
        sql = f"with checked as ({sql}) select {', '.join(selects)} from checked"
    try:
        con = open_warehouse(cfg)
        try:
            cursor = con.execute(sql)
            row = cursor.fetchone()
            names = [d[0] for d in cursor.description]
        finally:
            con.close()
    except duckdb.Error:  # the node's own failure is reported all the same
        log.warning("could not count the broken constraints of %s", node.unique_id)
        return ""
    if row is None:
        return ""
    broken = [
        _describe(model, name, int(count))
        for name, count in zip(names, row, strict=True)
        if name != "rows_checked" and count
    ]
    return f"; broken: {', '.join(broken)}" if broken else ""


# What a seed load and the docs site are made from. Seeds are re-loaded, and the docs
# site regenerated, only when one of these files changed (or, for the docs, the columns
# the catalog describes): a daily build pays neither for an unchanged project.
SEED_INPUTS = ("dbt_project.yml", "seeds", "dbt_project/macros", "dbt_project/tests")
DOCS_INPUTS = ("dbt_project.yml", "dbt_project", "seeds")


def fingerprint(cfg: Settings, inputs: tuple[str, ...], *extra: str) -> str:
    """A digest of the project files under ``inputs`` (paths and bytes), dbt's version and
    ``extra``."""
    # lazy: dbt takes seconds to import; it loads when a dbt command runs
    from dbt.version import __version__ as dbt_version

    digest = hashlib.sha256(f"dbt {dbt_version}\0".encode())
    for part in inputs:
        root = cfg.project_dir / part
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            digest.update(f"{path.relative_to(cfg.project_dir)}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
    for item in extra:
        digest.update(f"{item}\0".encode())
    return digest.hexdigest()


def _seeds_loaded(cfg: Settings, expected: str) -> bool:
    """Whether the warehouse holds a seed load of exactly ``expected``, every seed table
    present (a warehouse restored or hand-edited since is loaded again)."""
    names = sorted(p.stem for p in (cfg.project_dir / "seeds").glob("*.csv"))
    with connect_writer(cfg) as con:
        recorded = con.execute(
            "select fingerprint from audit.build_fingerprint where name = 'seeds'"
        ).fetchall()
        present = con.execute(
            "select count(distinct table_name) from information_schema.tables"
            " where table_schema = 'reference' and table_name in ?",
            [names],
        ).fetchall()[0][0]
    return bool(recorded) and recorded[0][0] == expected and present == len(names)


def _record_fingerprint(cfg: Settings, name: str, value: str) -> None:
    with connect_writer(cfg) as con:
        con.execute(
            "insert or replace into audit.build_fingerprint"
            " values (?, ?, current_timestamp::timestamp)",
            [name, value],
        )


def seed(cfg: Settings, business_date: dt.date | None = None, force: bool = False) -> StepResult:
    """Load the reference seeds (and test them), unless the warehouse already holds this
    very load.

    A load is whole (``--full-refresh``), so a column added to a seed file reaches the
    warehouse without a manual step, and is skipped while the seed files, their YAML, the
    project file and the test macros are byte for byte those of the last load
    (``force`` loads anyway; a full refresh does). Only tests whose every parent is a
    seed run here (``cautious``), the others with their model's layer. ``business_date`` is
    the build's, so the seeds' run sees the same date as the layers' that follow."""
    expected = fingerprint(cfg, SEED_INPUTS)
    if not force and _seeds_loaded(cfg, expected):
        log.info("seeds unchanged since their last load: not reloaded")
        return StepResult("seed (unchanged, not reloaded)", 0, [], 0.0)
    step = dbt(
        cfg,
        [
            "build",
            "--select",
            "resource_type:seed",
            "--indirect-selection",
            "cautious",
            "--full-refresh",
        ],
        business_date,
    )
    _record_fingerprint(cfg, "seeds", expected)
    return step


def build_layer(
    cfg: Settings,
    layer: str,
    business_date: dt.date | None,
    full_refresh: bool = False,
) -> StepResult:
    """``dbt build`` (models and their tests) of one layer for a business date."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}")
    if layer != "staging" and not full_refresh:
        _refuse_tables_without_contract(cfg, layer)
    return dbt(
        cfg,
        ["build", "--select", layer, "--indirect-selection", INDIRECT_SELECTION[layer]],
        business_date,
        full_refresh,
        writes_models=True,
    )


def _refuse_tables_without_contract(cfg: Settings, layer: str) -> None:
    """A daily build appends to tables made by an earlier build. Tables made before the
    models enforced their contracts have no constraints, and would take rows that break
    them without a word: refuse, and say how to remake them."""
    with connect_writer(cfg) as con:
        tables, keyed = con.execute(
            "select (select count(*) from duckdb_tables() where schema_name = $1),"
            " (select count(*) from duckdb_constraints() where schema_name = $1)",
            [layer],
        ).fetchone()
    if tables and not keyed:
        raise DbtBuildError(
            f"the {layer} tables predate their contracts (no constraint to enforce): "
            "rebuild them once with `kairos build --full-refresh`"
        )


def build_models(
    cfg: Settings, business_date: dt.date | None, full_refresh: bool = False
) -> StepResult:
    """``dbt build`` of every layer, models and tests, in one invocation: dbt runs each
    node once its parents are built, and a failed node skips what reads it. Each dbt
    invocation pays a fixed cost (the manifest, the adapter), so three cost twice it
    more than one. Tests are selected eagerly: a test runs with the models it reads,
    including one that also reads a seed (loaded by ``seed`` first)."""
    if not full_refresh:
        for layer in LAYERS[1:]:
            _refuse_tables_without_contract(cfg, layer)
    return dbt(
        cfg,
        ["build", "--select", *LAYERS, "--indirect-selection", "eager"],
        business_date,
        full_refresh,
        writes_models=True,
    )


def build(
    cfg: Settings, business_date: dt.date | None, full_refresh: bool = False
) -> list[StepResult]:
    """Seeds, then every layer, for one business date (or all dates)."""
    steps = [seed(cfg, business_date, force=full_refresh)]
    steps.append(build_models(cfg, business_date, full_refresh))
    return steps


DOCS_FILES = ("index.html", "manifest.json", "catalog.json")


def _catalog_columns(cfg: Settings) -> list[str]:
    """Every column of the warehouse, as the docs catalog describes it."""
    with connect_writer(cfg) as con:
        rows = con.execute(
            "select table_schema, table_name, column_name, data_type"
            " from information_schema.columns order by all"
        ).fetchall()
    return ["|".join(map(str, r)) for r in rows]


def docs(cfg: Settings, business_date: dt.date | None = None, force: bool = False) -> Path:
    """Generate the dbt docs site; returns the folder holding index.html.

    The site served (``cfg.docs_site_dir``) is a copy of dbt's three files in which the
    server's absolute paths (the project, the data root, the warehouse) are replaced by
    relative names: teams read the lineage, not the server's layout. The site describes
    the project and the warehouse's columns, not its rows, so it is regenerated only when
    one of them changed since it was last written (``force`` regenerates anyway);
    ``business_date`` is the build's, as in ``seed``."""
    site = cfg.docs_site_dir
    stamp = site / ".fingerprint"
    expected = fingerprint(cfg, DOCS_INPUTS, *_catalog_columns(cfg))
    current = all((site / name).is_file() for name in DOCS_FILES) and stamp.is_file()
    if not force and current and stamp.read_text(encoding="utf-8") == expected:
        log.info("dbt docs site unchanged: project and columns as when it was written")
        return site
    dbt(cfg, ["docs", "generate"], business_date)
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
    write_atomic(stamp, expected, encoding="utf-8")
    return site


def refresh_snapshot(cfg: Settings) -> Path:
    """Publish the analysts' read-only snapshot of the warehouse (:mod:`kairos.warehouse.snapshot`):
    the previous generation brought up to date, then swapped in."""
    return snapshots.publish(cfg)
