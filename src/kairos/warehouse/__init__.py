"""The warehouse: the DuckDB store with its writer lock, connection and audit tables
(:mod:`~kairos.warehouse.store`), the dbt runner that builds raw into marts
(:mod:`~kairos.warehouse.runner`), and the analysts' read-only snapshot
(:mod:`~kairos.warehouse.snapshot`)."""

from kairos.warehouse.runner import (
    BUSINESS_DATE_ENV,
    DOCS_FILES,
    LAYERS,
    DbtBuildError,
    StepResult,
    build,
    build_layer,
    build_models,
    dbt,
    docs,
    fingerprint,
    refresh_snapshot,
    seed,
)

__all__ = [
    "BUSINESS_DATE_ENV",
    "DOCS_FILES",
    "LAYERS",
    "DbtBuildError",
    "StepResult",
    "build",
    "build_layer",
    "build_models",
    "dbt",
    "docs",
    "fingerprint",
    "refresh_snapshot",
    "seed",
]
