"""
### publish_target_lists

Every morning, once `build_warehouse` has updated the warehouse Asset: the Great
Expectations gate on the raw extracts and the key marts, then the campaign target lists
(one per warning rule and channel) written to a staging directory, the gate on the
lists, and the atomic publication with its manifest and day-over-day diff.

Any failure publishes nothing: yesterday's lists stay current, the summary is written to
`$KAIROS_HOME/publish/_reports/` and the alert hook (`KAIROS_ALERT_HOOK`) is called.
Design: `docs/publishing.md`.
"""

from airflow.sdk import DAG

from kairos.orchestration import publish_target_lists_dag

dag: DAG = publish_target_lists_dag(doc_md=__doc__)
