"""
### ingest_crm

Loads the day's
**CRM (customers, contacts, complaints, service activities)**
extracts into `raw.crm_*` in the DuckDB warehouse.

Per extract: `wait_<extract>` waits for the control file (deferrable sensor; past
`KAIROS_SENSOR_TIMEOUT_S` it skips softly, with an alert, and blocks no other run), then
`load_<extract>` checks row count, size and MD5, refuses a mismatching file whole,
quarantines malformed rows with file, line and reason, and replaces the business date's
partition in one transaction (pool `kairos_duckdb_writer`, one writer at a time).
`day_complete` updates the Asset `raw_crm` once every extract of the day is in.

Business date: the `business_date` param, else the day before the logical date
(Asia/Shanghai), else (a manual run) the day before it was started. Same code as `kairos
ingest --date D --system crm`.
"""

from airflow.sdk import DAG

from kairos.orchestration import ingest_dag

dag: DAG = ingest_dag("crm", doc_md=__doc__)
