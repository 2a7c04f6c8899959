"""
### ingest_bi

Loads the day's
**BI (customer tags and satisfaction surveys)**
extracts into `raw.bi_*` in the DuckDB warehouse.

`load` waits for the extracts' control files (deferred to the triggerer, holding no
slot), then loads the delivered extracts one after another in one process (pool
`kairos_duckdb_writer`, one writer at a time): each checks row count, size and MD5, is
refused whole on a mismatch, quarantines malformed rows with file, line and reason, and
replaces the business date's partition in one transaction, with its own ledger row; a
failed extract does not stop the others, and a retry re-loads only what failed. Once
every extract of the day is in, `load` seals the day and updates the Asset `raw_bi`.
Past `KAIROS_SENSOR_TIMEOUT_S` it loads what arrived and ends skipped (no Asset, no
other run blocked), and `missing_deliveries` alerts naming what did not arrive.

Business date: the `business_date` param, else the day before the logical date
(Asia/Shanghai), else (a manual run) the day before it was started. Same code as `kairos
ingest --date D --system bi`.
"""

from airflow.sdk import DAG

from kairos.orchestration import ingest_dag

dag: DAG = ingest_dag("bi", doc_md=__doc__)
