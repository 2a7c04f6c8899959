"""
### build_warehouse

Builds the Kairos warehouse with dbt, one business date per run, oldest pending date
first. Scheduled on the Assets `raw_boss`, `raw_crm` and `raw_bi`; the events only wake
it up: `plan` picks the oldest date that every extract has loaded after the last built
one (`audit.load_ledger`, `audit.build_ledger`), or the `business_date` param (an older
date is rebuilt with every later built date after it, in order, unless
`rebuild_later_dates` is off). Nothing pending: the steps skip.

Steps (`kairos.pipeline.BUILD_STEPS`, the same functions as `kairos build`), in one
task, `build`, in pool `kairos_duckdb_writer`: `dbt_seed`, `dbt_build_models` (one `dbt
build` of staging, intermediate and marts, models and tests, under the warehouse writer
lock; a failure names its nodes), `record_build`, `dbt_docs` and `publish_snapshot` (the
analysts' read-only copy); a failure names its step. On success it updates the Asset
`warehouse_marts`. Then `has_more` / `continue_backlog` start the next run while
dates are pending, also after a failed date. Every task alerts through
`KAIROS_ALERT_HOOK` on failure. Design: docs/orchestration.md.
"""

from airflow.sdk import DAG

from kairos.orchestration import build_warehouse_dag

dag: DAG = build_warehouse_dag(doc_md=__doc__)
