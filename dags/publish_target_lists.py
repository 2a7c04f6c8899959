"""
### publish_target_lists

Publishes the campaign target lists, one business date per run, oldest first: `plan`
picks the oldest date built in the analysts' snapshot after the last date publishing has
an outcome for (or the `business_date` param, to publish a date again). Scheduled on the
Asset `warehouse_marts`.

Steps (`kairos.pipeline.PUBLISH_STEPS`, the same functions as `kairos publish`), in one
task `publish` whose report names a step that fails: the Great Expectations gate on the
raw extracts and key marts, the lists written to a staging directory, the gate on the
lists, the atomic publication with manifest and day-over-day diff. A warehouse-level
failure publishes nothing (yesterday's lists stay current); a list-level failure
withholds that list only, marked in the manifest, the report and
`publish/_outcomes/<date>.json` with the check and the figures. Failures alert through
`KAIROS_ALERT_HOOK`. Design: docs/publishing.md.
"""

from airflow.sdk import DAG

from kairos.orchestration import publish_target_lists_dag

dag: DAG = publish_target_lists_dag(doc_md=__doc__)
