"""
### build_warehouse

Builds the Kairos warehouse with dbt for one business date once BOSS, CRM and BI have
all loaded it: it is scheduled on the Assets `raw_boss`, `raw_crm` and `raw_bi`, and
takes the business date from their events (or from the `business_date` param).

One task per layer -- `dbt_seed`, `dbt_build_staging`, `dbt_build_intermediate`,
`dbt_build_marts` -- each a `dbt build` (models and their tests) through dbt's
programmatic runner, holding the warehouse writer lock (pool `kairos_duckdb_writer`). A
failing model or error-severity test fails the task and the run. Fact models are
incremental by business date: a run replaces exactly its date. Then `dbt_docs` (the docs
site) and `publish_snapshot` (checkpoint, copy, atomic swap of the analysts' read-only
copy), which updates the Asset `warehouse_marts`. Why layers and not one task per model:
docs/orchestration.md.
"""

from airflow.sdk import DAG

from kairos.orchestration import build_warehouse_dag

dag: DAG = build_warehouse_dag(doc_md=__doc__)
