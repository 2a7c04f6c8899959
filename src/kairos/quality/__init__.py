"""Data-quality gates: Great Expectations suites evaluated on data fetched from DuckDB.

Why not GX's SQL datasource: over duckdb-engine it returns empty metrics (GX issue
11579), so every expectation "fails" whatever the data -- a gate that cannot tell good
data from bad. Instead each suite is a DuckDB query plus GX expectations, evaluated by
GX's pandas engine on the query's result, in one of two shapes:

* ``rows`` suites check row-level expectations (not null, in a set, between, a pattern).
  The result is streamed from DuckDB in Arrow batches of ``batch_rows`` rows and each
  batch is validated on its own, so memory is bounded by the batch, not the table; the
  suite passes when every batch passes and unexpected counts are summed.
* ``aggregate`` suites check set-level facts (keys unique, row count against the control
  file and the trailing average, shares, sizes): DuckDB computes them over the whole
  table (it is good at that), GX validates the small result.

Suites are data: ``expectations/*.yml`` in the project (:mod:`kairos.quality.suites`
reads them), queries over the warehouse's tables and GX expectations by name.
Results are kept: a JSON summary per gate run and GX Data Docs (HTML) under
``$KAIROS_HOME/quality``. A failed gate raises :class:`GateFailed`.
"""

from kairos.quality import compiled
from kairos.quality.gates import (
    ExpectationOutcome,
    GateFailed,
    GateResult,
    SuiteResult,
    _batches,
    _Validator,
    run_gate,
    run_suite,
    sql_compiled,
)
from kairos.quality.suites import Suite, load_suites

__all__ = [
    "ExpectationOutcome",
    "GateFailed",
    "GateResult",
    "Suite",
    "SuiteResult",
    "_Validator",
    "_batches",
    "compiled",
    "load_suites",
    "run_gate",
    "run_suite",
    "sql_compiled",
]
