"""The gates: GX suites over DuckDB queries, evaluated by GX's pandas engine (see
:mod:`kairos.quality`)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from kairos.config import Settings
from kairos.files import relative, safe_name, write_json
from kairos.quality import compiled
from kairos.quality.suites import Suite, load_suites

__all__ = ["GateFailed", "GateResult", "Suite", "SuiteResult", "load_suites", "run_gate"]

log = logging.getLogger(__name__)


@dataclass
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    element_count: int = 0
    unexpected_count: int = 0
    observed: object = None
    details: str = ""
    description: str = ""
    # list -> the failing row's figures ("eligible_rows=3, volume_low=12"), for suites
    # with a list column; empty figures where the suite is sensitive
    failing_lists: dict[str, str] = field(default_factory=dict)

    def check(self) -> str:
        """The check in words: its description, or its type and column."""
        where = f" on {self.column}" if self.column else ""
        return self.description or f"{self.expectation}{where}"


@dataclass
class SuiteResult:
    suite: str
    description: str
    shape: str
    success: bool
    rows: int
    batches: int
    seconds: float
    expectations: list[ExpectationOutcome] = field(default_factory=list)
    error: str | None = None
    list_column: str | None = None
    # who evaluated the expectations: gx (pandas engine, batch by batch) or duckdb (row
    # expectations compiled to SQL, kairos.quality.compiled)
    engine: str = "gx"

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]

    @property
    def list_level(self) -> bool:
        """Its failures are attributed to lists (and withhold only those)."""
        return (
            self.list_column is not None
            and self.error is None
            and all(e.failing_lists for e in self.failures)
        )


@dataclass
class GateResult:
    gate: str
    business_date: str
    run_id: str
    success: bool
    suites: list[SuiteResult]
    result_path: str = ""
    data_docs: str = ""

    @property
    def gate_level_success(self) -> bool:
        """No failure that concerns the whole gate (as opposed to single lists)."""
        return all(s.success or s.list_level for s in self.suites)

    def withheld_lists(self) -> dict[str, list[str]]:
        """Lists failing a list-level check -> one reason per failed check, naming the
        check and the figures."""
        out: dict[str, list[str]] = {}
        for s in self.suites:
            if s.success or not s.list_level:
                continue
            for e in s.failures:
                for list_id, figures in sorted(e.failing_lists.items()):
                    reason = f"{s.suite}: {e.check()}" + (f" ({figures})" if figures else "")
                    out.setdefault(list_id, []).append(reason)
        return out

    def headline(self) -> str:
        """One line: the gate and its failed checks, by table or suite."""
        failed = [
            f"{s.suite}: "
            + (
                s.error
                or "; ".join(
                    e.check() + ("" if e.observed is None else f" (observed {e.observed})")
                    for e in s.failures
                )
            )
            for s in self.suites
            if not s.success
        ]
        return f"gate {self.gate} failed: " + " | ".join(failed)[:600]

    def summary(self) -> str:
        """A human-readable account of the gate: what failed and by how much."""
        lines = [
            f"gate {self.gate} for {self.business_date} (run {self.run_id}):"
            f" {'PASSED' if self.success else 'FAILED'}"
        ]
        for s in self.suites:
            mark = "ok  " if s.success else "FAIL"
            lines.append(f"  {mark} {s.suite}: {s.rows:,} rows in {s.batches} batch(es)")
            if s.error:
                lines.append(f"       error: {s.error}")
            for e in s.failures:
                observed = "" if e.observed is None else f", observed {e.observed}"
                lines.append(
                    f"       {e.check()}: {e.unexpected_count:,} of"
                    f" {e.element_count:,} unexpected{observed} {e.details}".rstrip()
                )
                for list_id, figures in sorted(e.failing_lists.items()):
                    lines.append(f"         list {list_id}: {figures or 'failed'}")
        if self.result_path:
            lines.append(f"  results: {self.result_path}")
        if self.data_docs:
            lines.append(f"  data docs: {self.data_docs}")
        return "\n".join(lines)


class GateFailed(RuntimeError):
    """A gate found data that must not be published."""

    def __init__(self, result: GateResult):
        super().__init__(result.summary())
        self.result = result


class _Validator:
    """One ephemeral GX context per gate run, with a pandas datasource and Data Docs
    written to ``$KAIROS_HOME/quality/data_docs``.

    Data Docs are built once per gate (:meth:`build_docs`), for the validations it ran,
    not by a checkpoint action after every batch: GX renders each page from freshly
    compiled templates, and rebuilding the site per batch was most of a gate's time.
    The site shows validation results (each lists its expectations); the separate
    expectation-suite pages are not rendered."""

    def __init__(self, docs_dir: Path):
        # lazy: GX takes seconds to import; only a gate that evaluates with it loads it
        import great_expectations as gx

        # lazy: GX takes seconds to import; only a gate that evaluates with it loads it
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        self.gx = gx
        self.context = gx.get_context(
            mode="ephemeral",
            project_config=DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(),
                analytics_enabled=False,  # nothing leaves the machine
            ),
        )
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.docs_dir = docs_dir
        self.context.add_data_docs_site(
            site_name="kairos",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "site_section_builders": {"expectations": "0", "profiling": "0"},
            },
        )
        self.source = self.context.data_sources.add_pandas("kairos_duckdb_frames")
        self.checkpoints: dict[str, object] = {}
        self.validation_ids: list = []

    def checkpoint(self, suite: Suite):
        if suite.name in self.checkpoints:
            return self.checkpoints[suite.name]
        gx = self.gx
        asset = self.source.add_dataframe_asset(suite.name)
        batch = asset.add_batch_definition_whole_dataframe(f"{suite.name}_batch")
        gx_suite = self.context.suites.add(gx.ExpectationSuite(name=suite.name))
        for expectation in suite.expectations():
            gx_suite.add_expectation(expectation)
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
        )
        checkpoint = self.context.checkpoints.add(
            gx.Checkpoint(
                name=f"{suite.name}_checkpoint",
                validation_definitions=[definition],
                actions=[],
                result_format=_result_format(suite),
            )
        )
        self.checkpoints[suite.name] = checkpoint
        return checkpoint

    def build_docs(self) -> None:
        """Render the Data Docs pages of this gate's validations and the site's index."""
        if self.validation_ids:
            self.context.build_data_docs(
                site_names=["kairos"], resource_identifiers=self.validation_ids
            )

    def validate(self, suite: Suite, frame) -> list[ExpectationOutcome]:
        result = self.checkpoint(suite).run(batch_parameters={"dataframe": frame})
        self.validation_ids.extend(result.run_results)
        outcomes = []
        for run in result.run_results.values():
            for r in run.results:
                cfg = r.expectation_config
                res = r.result or {}
                exc = (r.exception_info or {}).get("exception_message")
                outcomes.append(
                    ExpectationOutcome(
                        expectation=cfg.type,
                        column=cfg.kwargs.get("column") or cfg.kwargs.get("column_A") or None,
                        success=bool(r.success),
                        element_count=int(res.get("element_count") or len(frame)),
                        unexpected_count=int(res.get("unexpected_count") or 0),
                        observed=_plain(res.get("observed_value")),
                        details=(
                            f"(error: {exc})"
                            if exc
                            else ""
                            if suite.sensitive
                            else _examples(res.get("partial_unexpected_list"))
                        ),
                        description=getattr(cfg, "description", None) or "",
                        failing_lists=(
                            _failing_lists(suite, res)
                            if suite.list_column and not r.success
                            else {}
                        ),
                    )
                )
        return outcomes


def _result_format(suite: Suite) -> dict | str:
    if suite.list_column:
        # COMPLETE names every failing row by its list (bounded by the failures)
        return {
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [suite.list_column],
            "return_unexpected_index_query": False,
            "partial_unexpected_count": 0 if suite.sensitive else 3,
        }
    if suite.sensitive:
        return {"result_format": "SUMMARY", "partial_unexpected_count": 0}
    return "SUMMARY"


def _failing_lists(suite: Suite, result: dict) -> dict[str, str]:
    """list id -> the figures of its (first) failing row, from GX's unexpected index."""
    out: dict[str, str] = {}
    for row in result.get("unexpected_index_list") or []:
        if not isinstance(row, dict) or suite.list_column not in row:
            continue
        list_id = str(row[suite.list_column])
        if list_id in out:
            continue
        out[list_id] = (
            ""
            if suite.sensitive
            else ", ".join(f"{k}={_plain(v)}" for k, v in row.items() if k != suite.list_column)
        )
    return out


def _plain(value):
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if isinstance(value, float):
        return None if value != value else round(value, 4)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _examples(values) -> str:
    if not values:
        return ""
    shown = ", ".join(repr(v) for v in list(values)[:3])
    return f"(e.g. {shown})"


def _merge(total: list[ExpectationOutcome] | None, batch: list[ExpectationOutcome]):
    if total is None:
        return batch
    for t, b in zip(total, batch, strict=True):
        t.success = t.success and b.success
        t.element_count += b.element_count
        t.unexpected_count += b.unexpected_count
        if not b.success and not t.details:
            t.details = b.details
        for list_id, figures in b.failing_lists.items():
            t.failing_lists.setdefault(list_id, figures)
        t.observed = b.observed if b.observed is not None else t.observed
    return total


def _batches(reader, batch_rows: int):
    """Arrow tables of about ``batch_rows`` rows from a record-batch reader (DuckDB may
    hand out smaller batches, e.g. one per Parquet file)."""
    # lazy: only a gate that hands rows to GX needs it
    import pyarrow as pa

    pending, size = [], 0
    for record_batch in reader:
        if record_batch.num_rows == 0:
            continue
        pending.append(record_batch)
        size += record_batch.num_rows
        if size >= batch_rows:
            yield pa.Table.from_batches(pending)
            pending, size = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def sql_compiled(suite: Suite) -> bool:
    """Whether the suite's row expectations are counted by DuckDB (kairos.quality.compiled)
    rather than evaluated by GX's pandas engine batch by batch."""
    return suite.shape == "rows" and not suite.list_column and compiled.compilable(suite.entries)


def _run_compiled(
    con: duckdb.DuckDBPyConnection, suite: Suite, used: dict, started: float
) -> SuiteResult:
    rows, outcomes, error = 0, [], None
    try:
        rows, outcomes = compiled.evaluate(
            con, suite.query, used, suite.entries, suite.sensitive, ExpectationOutcome
        )
    except duckdb.Error as exc:
        error = f"{type(exc).__name__}: {exc}"
    return SuiteResult(
        suite=suite.name,
        description=suite.description,
        shape=suite.shape,
        success=error is None and all(o.success for o in outcomes),
        rows=rows,
        batches=1,
        seconds=round(time.perf_counter() - started, 3),
        expectations=outcomes,
        error=error,
        engine="duckdb",
    )


def run_suite(
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    params: dict,
    validator: _Validator,
    engine: str = "auto",
) -> SuiteResult:
    """Evaluate one suite: count its row expectations in DuckDB where they compile to SQL
    (``engine="auto"``), else stream its query in batches to GX (rows, or
    ``engine="gx"``) or validate the aggregate."""
    started = time.perf_counter()
    rows = batches = 0
    outcomes: list[ExpectationOutcome] | None = None
    used = {k: v for k, v in params.items() if f"${k}" in suite.query}
    if engine == "auto" and sql_compiled(suite):
        return _run_compiled(con, suite, used, started)
    try:
        reader = con.sql(suite.query, params=used).to_arrow_reader(suite.batch_rows)
        for table in _batches(reader, suite.batch_rows):
            frame = table.to_pandas()
            rows += len(frame)
            batches += 1
            outcomes = _merge(outcomes, validator.validate(suite, frame))
        if outcomes is None:
            # No rows: a row suite passes vacuously only if that is acceptable to it; an
            # aggregate query always returns its one row, so empty means broken SQL.
            # lazy: only a gate that hands rows to GX needs it
            import pandas as pd

            columns = [d[0] for d in con.execute(suite.query, used).description]
            outcomes = validator.validate(suite, pd.DataFrame(columns=columns))
            batches = 1
        success = all(o.success for o in outcomes)
        error = None
    except duckdb.Error as exc:
        success, error, outcomes = False, f"{type(exc).__name__}: {exc}", outcomes or []
    return SuiteResult(
        suite=suite.name,
        description=suite.description,
        shape=suite.shape,
        success=success,
        rows=rows,
        batches=batches,
        seconds=round(time.perf_counter() - started, 3),
        expectations=outcomes or [],
        error=error,
        list_column=suite.list_column,
    )


def run_gate(
    cfg: Settings,
    gate: str,
    suites: list[Suite],
    business_date: dt.date,
    *,
    run_id: str = "manual",
    params: dict | None = None,
    database: Path | None = None,
    raise_on_failure: bool = True,
) -> GateResult:
    """Run ``suites`` against the warehouse (read-only), keep the results, and raise
    :class:`GateFailed` if any suite fails (unless ``raise_on_failure`` is false)."""
    out = cfg.quality_dir
    out.mkdir(parents=True, exist_ok=True)
    validator = _Validator(out / "data_docs")
    values = {"business_date": business_date, **(params or {})}
    con = duckdb.connect(str(database or cfg.warehouse), read_only=True)
    con.execute("set enable_progress_bar = false")  # no bar in task logs (warehouse.quiet)
    try:
        results = [run_suite(con, s, values, validator) for s in suites]
    finally:
        con.close()
    validator.build_docs()
    result = GateResult(
        gate=gate,
        business_date=business_date.isoformat(),
        run_id=run_id,
        success=all(r.success for r in results),
        suites=results,
        data_docs=relative(out / "data_docs" / "index.html", cfg.home),
    )
    path = out / business_date.isoformat() / f"{gate}-{safe_name(run_id)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    result.result_path = relative(path, cfg.home)
    write_json(path, asdict(result), sort_keys=False, ensure_ascii=True, default=str)
    log.info("%s", result.summary())
    if raise_on_failure and not result.success:
        raise GateFailed(result)
    return result
