"""The analysts' read-only snapshot of the warehouse, brought up to date a day at a time.

Readers never open the live warehouse: one writer owns it. They open
``$KAIROS_HOME/snapshot/kairos.duckdb``, a symbolic link to the current *generation*,
``snapshot/generations/<n>/kairos.duckdb``. Two generations are kept. Publishing a
snapshot brings the other one -- the previous, which no one should be reading -- up to
the live warehouse and then swaps the link to it, so a reader sees one whole build or
the next, never half of one, and an open session keeps the generation it opened.

The snapshot holds no identifying value: the columns the extract contract marks ``pii``
-- the mobile number, the customer's name and birth date, in raw and staging alike --
are masked as every row is copied (138****1234; the name's first character; the birth
date's year). Only the pipeline opens the live warehouse.

Bringing a generation up to date copies what changed since it was last published, in
one transaction:

* a date-partitioned table -- a raw extract, or a dbt model incremental on
  ``business_date`` -- gets only the partitions of the dates loaded or built since.
  Those dates are the rows of the live ledgers of loads and dbt commands
  (``audit.load_ledger``; ``audit.dbt_invocations``, written before each dbt command
  starts) that the generation's own copy of the ledgers lacks: no clock, no separate
  journal. A model whose build of D rewrites earlier dates too says how many in its
  config (``meta.rewrites_days_back``);
* every other table is made again and copied whole (dbt rebuilt it whole anyway, so the
  copy costs less than its build did), as is a table whose definition changed;
* views, schemas and the comments dbt persists are made to match.

So a day's snapshot costs what a day's data and the whole-table marts cost, not what
the history does. Each partitioned table's row count is compared with the live one
afterwards: one that changed beyond the dates recorded is copied whole, with a
warning. A generation that cannot be brought up to date -- a reader still has it open
(DuckDB's file lock says so), there is none yet, it grew past ``MAX_GROWTH`` times the
warehouse, or the update fails -- is replaced by a new file every table is copied into
(never a copy of the bytes: the identifying values would travel with them).
``generations/<n>/generation.json`` says how each was made.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kairos import contract
from kairos.config import Settings
from kairos.files import sweep_dead, write_json
from kairos.warehouse.store import open_warehouse, quiet, writer_lock

log = logging.getLogger(__name__)

GENERATIONS = "generations"
# more changed dates than this (a rebuild of many dates): a table is copied whole
MAX_PARTITIONS = 31
# DuckDB keeps the space of rows deleted from a file for reuse but never gives it back: a
# generation grown past this multiple of the warehouse is copied whole instead
MAX_GROWTH = 1.5


# the version of the snapshot's masking a generation was made with (generation.json): a
# generation made before the current one is written whole, never updated, so no row of it
# keeps an identifier the masking now hides
MASKING = 1


def _masking_of(generation: Path) -> int:
    try:
        with (generation / "generation.json").open(encoding="utf-8") as fh:
            made = json.load(fh)
    except (OSError, ValueError):
        return 0
    return int(made.get("masking", 0)) if isinstance(made, dict) else 0


class Busy(RuntimeError):
    """The generation to update is open somewhere (a reader, or this process)."""


@dataclass
class Sync:
    """What bringing a generation up to date did."""

    dates: list[dt.date] = field(default_factory=list)
    every_date: bool = False  # a build of every date ran since: partitioned tables whole
    partitions: list[str] = field(default_factory=list)  # tables synced by partition
    whole: list[str] = field(default_factory=list)  # tables copied whole
    made: list[str] = field(default_factory=list)  # tables and views made (new/changed)
    dropped: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # partitioned, but copied whole
    comments: int = 0

    def describe(self) -> dict:
        return {
            "dates": [d.isoformat() for d in self.dates],
            "every_date": self.every_date,
            "tables_by_partition": len(self.partitions),
            "tables_whole": len(self.whole),
            "tables_made": self.made,
            "dropped": self.dropped,
            "repaired": self.repaired,
            "comments": self.comments,
        }


def publish(cfg: Settings) -> Path:
    """Bring the analysts' snapshot up to the live warehouse and swap it in; return its
    path. Taken under the writer lock after a whole day is built, so it never holds half
    of one. What was done is in ``generations/<n>/generation.json``."""
    link = cfg.snapshot
    root = link.parent
    gens = root / GENERATIONS
    gens.mkdir(parents=True, exist_ok=True)
    sweep_dead(root, f".{link.name}.*.part")  # killed copies and links
    sweep_dead(gens, ".*.part")
    started = time.perf_counter()
    with writer_lock(cfg.writer_lock, cfg.writer_lock_timeout_s):
        con = open_warehouse(cfg)
        try:
            con.execute("checkpoint")  # fold the WAL into the file
        finally:
            con.close()
        current = _current(link)
        costs = _costs(root)
        why = _copy_instead(cfg)
        target, synced = None, None
        begun = time.perf_counter()
        if not why:
            target, synced, why = _update_other(cfg, gens, current)
        if synced:
            _remember(root, costs, "update_seconds", time.perf_counter() - begun)
        else:
            for old in _generations(gens):  # room first: the copy needs a whole file's
                if old != current:
                    shutil.rmtree(old, ignore_errors=True)  # a reader keeps its inode
            begun = time.perf_counter()
            target = _copy_file(cfg, gens)
            gib = max(cfg.warehouse.stat().st_size / 2**30, 1e-3)
            _remember(root, costs, "copy_seconds_per_gib", (time.perf_counter() - begun) / gib)
    os.chmod(target / link.name, 0o444)
    seconds = time.perf_counter() - started
    record = {
        "generation": int(target.name),
        "made": "brought up to date" if synced else "copied whole",
        "masking": MASKING,
        **({"why": why} if why else {}),
        **(synced.describe() if synced else {}),
        "seconds": round(seconds, 3),
        "bytes": (target / link.name).stat().st_size,
        "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    write_json(target / "generation.json", record)
    _swap(link, target)
    for old in _generations(gens):
        if old not in (target, current):
            shutil.rmtree(old, ignore_errors=True)  # an open reader keeps its inode
    log.info(
        "snapshot generation %s: %s%s in %.1f s (%d MiB)",
        target.name,
        record["made"],
        f" ({why})" if why else "",
        seconds,
        record["bytes"] >> 20,
    )
    return link


COSTS = "costs.json"


def _costs(root: Path) -> dict:
    """The last measured costs of both ways (``costs.json``): seconds to copy a GiB of
    the warehouse, seconds to bring a generation up to date."""
    try:
        costs = json.loads((root / COSTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return costs if isinstance(costs, dict) else {}


def _remember(root: Path, costs: dict, name: str, seconds: float) -> None:
    """Fold a new measurement into ``costs`` (the mean with the last one: a day's cost
    moves with the page cache and the machine's load) and write them."""
    last = costs.get(name)
    costs[name] = round(seconds if not isinstance(last, int | float) else (last + seconds) / 2, 4)
    write_json(root / COSTS, costs)


def _copy_instead(cfg: Settings) -> str:
    """Why a whole new generation is written rather than the other one brought up to
    date ("": it is not). Only when asked (``copy``): since the snapshot masks every
    identifying column as it copies, a whole generation re-encodes every table, so it
    never beats the update, whose cost is a day's rows and the whole-table marts (the
    costs are still measured, in ``costs.json``). ``auto`` and ``update`` update."""
    if cfg.snapshot_mode == "copy":
        return "KAIROS_SNAPSHOT_MODE=copy"
    return ""


def describe(cfg: Settings) -> dict | None:
    """What made the current snapshot (its ``generation.json``), None without one."""
    current = _current(cfg.snapshot)
    try:
        return json.loads((current / "generation.json").read_text(encoding="utf-8"))
    except (OSError, TypeError, ValueError):
        return None


def _generations(gens: Path) -> list[Path]:
    return sorted(
        (p for p in gens.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)
    )


def _current(link: Path) -> Path | None:
    """The generation the link points to (None: no link, or a plain file of old)."""
    if not link.is_symlink():
        return None
    target = (link.parent / os.readlink(link)).parent
    return target if target.is_dir() else None


def _next_name(gens: Path) -> str:
    existing = [int(p.name) for p in _generations(gens)]
    return str(max(existing, default=0) + 1)


def _swap(link: Path, generation: Path) -> None:
    tmp = link.with_name(f".{link.name}.{os.getpid()}.part")
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(generation / link.name, link.parent), tmp)
    os.replace(tmp, link)  # a plain file of old is replaced the same way
    _fsync_dir(link.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_file(cfg: Settings, gens: Path) -> Path:
    """A new generation: every table of the live file copied into a new one, its
    identifying columns masked. Not a copy of the bytes: a masked value written over the
    original would leave the original in the file's free blocks."""
    name = _next_name(gens)
    part = gens / f".{name}.{os.getpid()}.part"
    part.mkdir()
    file = part / cfg.snapshot.name
    sync(cfg, file)
    with file.open("rb") as fh:
        os.fsync(fh.fileno())
    final = gens / name
    part.rename(final)
    return final


def _update_other(
    cfg: Settings, gens: Path, current: Path | None
) -> tuple[Path | None, Sync | None, str]:
    """Bring the generation that is not current up to date and renumber it as the
    newest: (it, what was done, ""); or (None, None, why not) to copy the file whole."""
    others = [g for g in _generations(gens) if g != current]
    if current is None or not others:
        return None, None, "no earlier generation"
    other = others[-1]
    file = other / cfg.snapshot.name
    if _masking_of(other) < MASKING:
        shutil.rmtree(other, ignore_errors=True)
        return None, None, f"generation {other.name} was made before identifiers were masked"
    with contextlib.suppress(OSError):
        if file.stat().st_size > MAX_GROWTH * cfg.warehouse.stat().st_size:
            shutil.rmtree(other, ignore_errors=True)
            return None, None, f"generation {other.name} grew past {MAX_GROWTH}x the warehouse"
    try:
        os.chmod(file, 0o644)
        result = sync(cfg, file)
    except Busy as exc:
        _readonly(file)
        return None, None, f"generation {other.name} is open ({exc})"
    except (duckdb.Error, OSError) as exc:
        log.warning(
            "snapshot generation %s could not be brought up to date: copying whole",
            other.name,
            exc_info=True,
        )
        shutil.rmtree(other, ignore_errors=True)
        return None, None, f"generation {other.name} could not be updated ({type(exc).__name__})"
    renamed = gens / _next_name(gens)
    other.rename(renamed)
    return renamed, result, ""


def _readonly(file: Path) -> None:
    with contextlib.suppress(OSError):
        os.chmod(file, 0o444)


def _open_here(file: Path) -> bool:
    """Whether this process has ``file`` open (DuckDB's file lock does not tell a process
    about itself)."""
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return False
    wanted = os.path.realpath(file)
    for fd in fds:
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == wanted:
                return True
        except OSError:
            continue
    return False


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(*parts: str) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


@dataclass(frozen=True)
class Partitioned:
    """A table changed a business date's partitions at a time: by ``source`` ("load":
    the ingest; "dbt": a build), a build of D rewriting D and ``days_back`` dates before."""

    source: str
    days_back: int = 0


def partitioned_tables(cfg: Settings) -> dict[tuple[str, str], Partitioned]:
    """The tables changed a business date's partitions at a time: the raw extracts, and
    the dbt models incremental on ``business_date`` (from the manifest of the last dbt
    run; without it, none -- every model is copied whole). A model whose build of D
    rewrites earlier dates too says how many in ``meta.rewrites_days_back``."""
    out = {tuple(e.raw_table.split(".", 1)): Partitioned("load") for e in contract.extracts()}
    try:
        manifest = json.loads((cfg.dbt_target_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("no dbt manifest: every model is copied whole into the snapshot")
        return out
    for node in manifest.get("nodes", {}).values():
        config = node.get("config") or {}
        if (
            node.get("resource_type") == "model"
            and config.get("materialized") == "incremental"
            and config.get("unique_key") in ("business_date", ["business_date"])
        ):
            back = int((config.get("meta") or {}).get("rewrites_days_back") or 0)
            out[(node["schema"], node.get("alias") or node["name"])] = Partitioned("dbt", back)
    return out


def _catalog(con: duckdb.DuckDBPyConnection, db: str) -> dict:
    tables = {
        (s, t): (sql, comment)
        for s, t, sql, comment in con.execute(
            "select schema_name, table_name, sql, comment from duckdb_tables()"
            " where database_name = ?",
            [db],
        ).fetchall()
    }
    views = {
        (s, v): (sql, comment)
        for s, v, sql, comment in con.execute(
            "select schema_name, view_name, sql, comment from duckdb_views()"
            " where database_name = ? and not internal",
            [db],
        ).fetchall()
    }
    columns = {
        (s, t, c): comment
        for s, t, c, comment in con.execute(
            "select schema_name, table_name, column_name, comment from duckdb_columns()"
            " where database_name = ? and comment is not null",
            [db],
        ).fetchall()
    }
    schemas = {
        s
        for (s,) in con.execute(
            "select schema_name from duckdb_schemas() where database_name = ? and not internal",
            [db],
        ).fetchall()
    }
    return {"tables": tables, "views": views, "columns": columns, "schemas": schemas}


@dataclass(frozen=True)
class Changes:
    """Dates loaded (``loads``) and built (``builds``) in the live warehouse since a
    generation was brought up to date; ``every_date``: a build of every date ran."""

    loads: frozenset[dt.date]
    builds: frozenset[dt.date]
    every_date: bool

    def dates(self, table: Partitioned) -> set[dt.date] | None:
        """The partitions of ``table`` that may have changed (None: any)."""
        if table.source == "load":
            return set(self.loads)
        if self.every_date:
            return None
        return {d - dt.timedelta(days=k) for d in self.builds for k in range(table.days_back + 1)}


def _changes(con: duckdb.DuckDBPyConnection, here: str) -> Changes:
    """The rows of the live ledgers of loads and dbt commands this generation lacks."""
    builds = con.execute(
        f"""
        select distinct business_date from live.audit.dbt_invocations
        where invocation_id not in (
            select invocation_id from {_ident(here, "audit", "dbt_invocations")}
        )
        """
    ).fetchall()
    loads = con.execute(
        f"""
        select distinct business_date from live.audit.load_ledger
        where load_id not in (select load_id from {_ident(here, "audit", "load_ledger")})
        """
    ).fetchall()
    built = {r[0] for r in builds}
    return Changes(
        frozenset(r[0] for r in loads), frozenset(built - {None}), every_date=None in built
    )


def sync(cfg: Settings, file: Path) -> Sync:
    """Bring the snapshot generation ``file`` up to the live warehouse, in one
    transaction; raise :class:`Busy` when it is open. The caller holds the writer lock."""
    if _open_here(file):
        raise Busy("open in this process")
    config = {"memory_limit": cfg.duckdb_memory_limit} if cfg.duckdb_memory_limit else {}
    try:
        con = duckdb.connect(str(file), config=config)
        quiet(con)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise Busy("held by another process") from None
        raise
    try:
        here = con.execute("select current_database()").fetchone()[0]
        con.execute(f"attach {_quote(str(cfg.warehouse))} as live (read_only)")
        con.execute("begin")
        result = _apply(con, here, partitioned_tables(cfg))
        con.execute("commit")
        con.execute("detach live")
        con.execute("checkpoint")
    finally:
        con.close()
    return result


def _apply(con: duckdb.DuckDBPyConnection, here: str, partitioned: dict) -> Sync:
    live, mine = _catalog(con, "live"), _catalog(con, here)
    if {("audit", "dbt_invocations"), ("audit", "load_ledger")} <= set(mine["tables"]):
        changes = _changes(con, here)
    else:  # a new generation: every table is copied whole
        changes = Changes(frozenset(), frozenset(), every_date=True)
    result = Sync(dates=sorted(changes.loads | changes.builds), every_date=changes.every_date)
    for schema in sorted(live["schemas"] - mine["schemas"]):
        con.execute(f"create schema {_ident(here, schema)}")
    for kind in ("view", "table"):
        for key in sorted(set(mine[kind + "s"]) - set(live[kind + "s"])):
            con.execute(f"drop {kind} {_ident(here, *key)}")
            result.dropped.append(".".join(key))
    for schema in sorted(mine["schemas"] - live["schemas"] - {"main"}):
        con.execute(f"drop schema {_ident(here, schema)} cascade")
        result.dropped.append(schema)
    _copy_tables(con, here, live, mine, partitioned, changes, result)
    _repair(con, here, live, result)
    for key in _in_dependency_order(con, live["views"], mine["views"], here):
        result.made.append(".".join(key))
    result.comments = _comments(con, here, live)
    return result


def identifying_columns() -> frozenset[str]:
    """The columns the extract contract marks ``pii`` (the mobile number, the customer's
    name and birth date): wherever a live table carries one, the snapshot masks it."""
    return frozenset(c.name for e in contract.extracts() for c in e.columns if c.pii)


def rows_as_snapshot(con: duckdb.DuckDBPyConnection, key, db: str = "live") -> str:
    """``select`` of a live table's rows (``db``: the live warehouse, attached) as the
    snapshot holds them: identifying columns masked. The live warehouse keeps them for
    the pipeline (the lists' masking, the pseudonyms); analysts never need them."""
    pii = identifying_columns()
    columns = con.execute(
        "select column_name, data_type from duckdb_columns()"
        " where database_name = ? and schema_name = ? and table_name = ?",
        [db, *key],
    ).fetchall()
    masked = [f"{contract.masked(n, t)} as {_ident(n)}" for n, t in columns if n in pii]
    replace = f" replace ({', '.join(masked)})" if masked else ""
    return f"select *{replace} from {_ident(db, *key)}"


def _copy_whole(con: duckdb.DuckDBPyConnection, here: str, key, sql: str) -> None:
    """Make the table again from its live definition and copy every row (a table
    emptied with DELETE would keep its deleted rows' space in the file)."""
    con.execute(f"drop table if exists {_ident(here, *key)}")
    con.execute(sql)  # unqualified: made in this generation (the default catalog)
    con.execute(f"insert into {_ident(here, *key)} {rows_as_snapshot(con, key)}")


def _copy_tables(con, here, live: dict, mine: dict, partitioned: dict, changes, result: Sync):
    """Each live table into this generation: by the partitions that may have changed
    when it is partitioned and its definition is unchanged, else whole."""
    for key, (sql, _) in sorted(live["tables"].items()):
        name = ".".join(key)
        table = partitioned.get(key)
        dates = changes.dates(table) if table else None
        same = key in mine["tables"] and mine["tables"][key][0] == sql
        if not same or dates is None or len(dates) > MAX_PARTITIONS:
            _copy_whole(con, here, key, sql)
            (result.whole if same else result.made).append(name)
            continue
        if dates:
            listed = ", ".join(f"DATE '{d.isoformat()}'" for d in sorted(dates))
            where = f"where business_date in ({listed})"
            con.execute(f"delete from {_ident(here, *key)} {where}")
            con.execute(f"insert into {_ident(here, *key)} {rows_as_snapshot(con, key)} {where}")
        result.partitions.append(name)


def _repair(con: duckdb.DuckDBPyConnection, here: str, live: dict, result: Sync) -> None:
    """A partitioned table that changed beyond the dates recorded is copied whole."""
    for name in result.partitions:
        key = tuple(name.split(".", 1))
        live_rows, my_rows = con.execute(
            f"select (select count(*) from {_ident('live', *key)}),"
            f" (select count(*) from {_ident(here, *key)})"
        ).fetchone()
        if live_rows != my_rows:
            log.warning(
                "snapshot: %s changed beyond the dates loaded or built (%d rows, %d here);"
                " copied whole",
                name,
                live_rows,
                my_rows,
            )
            _copy_whole(con, here, key, live["tables"][key][0])
            result.repaired.append(name)


def _comments(con: duckdb.DuckDBPyConnection, here: str, live: dict) -> int:
    """Make this generation's table, view and column comments the live ones; return how
    many changed (a table made again has lost its own)."""
    mine = _catalog(con, here)
    statements = []
    for kind in ("table", "view"):
        for key, (_, comment) in live[kind + "s"].items():
            if mine[kind + "s"].get(key, (None, None))[1] != comment:
                statements.append((f"{kind} {_ident(here, *key)}", comment))
    for key in live["columns"].keys() | mine["columns"].keys():
        comment = live["columns"].get(key)
        on = key[:2]
        if mine["columns"].get(key) != comment and (on in live["tables"] or on in live["views"]):
            statements.append((f"column {_ident(here, *key)}", comment))
    for target, comment in statements:
        con.execute(f"comment on {target} is {'null' if comment is None else _quote(comment)}")
    return len(statements)


def _in_dependency_order(con, live_views: dict, my_views: dict, here: str):
    """Make the views that are new or changed, each after the views its text names (a
    view is bound when made; names compared unquoted); yield each one made."""
    pending = {k: v for k, v in live_views.items() if my_views.get(k, (None,))[0] != v[0]}
    made: set = set()

    def needs(key) -> set:
        sql = pending[key][0].lower().replace('"', "")
        return {
            other
            for other in pending
            if other != key and other not in made and f"{other[0]}.{other[1]}".lower() in sql
        }

    while pending.keys() - made:
        ready = sorted(k for k in pending.keys() - made if not needs(k))
        if not ready:
            raise duckdb.CatalogException(f"views that read each other: {sorted(pending)}")
        for key in ready:
            if key in my_views:
                con.execute(f"drop view {_ident(here, *key)}")
            con.execute(pending[key][0])
            made.add(key)
            yield key
