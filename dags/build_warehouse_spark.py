"""
### build_warehouse_spark

Builds the same dbt project on Spark, beside the DuckDB build, one business date per run,
oldest pending date first. Defined only when `KAIROS_ENGINES` names `spark` (with
`KAIROS_LAKE`, the Parquet lake ingestion writes sealed raw partitions to). Scheduled on
the Assets `raw_boss`, `raw_crm` and `raw_bi`, like `build_warehouse`; `plan` picks the
oldest completely loaded date after the last one built on Spark
(`audit.engine_build_ledger`), or the `business_date` param.

Steps (`kairos.pipeline.SPARK_BUILD_STEPS`), each in its engine's pool:
`lake_partitions` (writes the date's raw partitions the lake lacks; pool
`kairos_duckdb_writer`), `spark_build` (`spark/build.py` in the Spark environment:
seeds, lake sources, `dbt build` of the date with every test; pool `kairos_spark_build`,
`KAIROS_SPARK_POOL_SLOTS` slots -- it never holds DuckDB's writer), `record_spark_build`
(pool `kairos_duckdb_writer`). Then `has_more` / `continue_backlog`. Publishing still
reads DuckDB's snapshot. Design: docs/orchestration.md, "Past one machine".
"""

from airflow.sdk import DAG

from kairos.orchestration import build_warehouse_spark_dag

dag: DAG | None = build_warehouse_spark_dag(doc_md=__doc__)
