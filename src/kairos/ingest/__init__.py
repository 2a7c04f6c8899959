"""Ingestion: delivered extracts into ``raw.<system>_<extract>`` (see ``load``).

The same functions serve the Airflow DAGs and the command line, so ``kairos ingest``
and a DAG run load a day identically.
"""

from kairos.ingest.day import (
    Failure,
    SystemLoad,
    choose,
    ingest_dates,
    ingest_extract,
    ingest_system,
    is_delivered,
    limits,
    seal,
)
from kairos.ingest.lake import export_partitions
from kairos.ingest.load import (
    DeliveryHeld,
    DeliveryRefused,
    Limits,
    LoadFailed,
    LoadResult,
    NotDelivered,
    ReconciliationError,
    load_extract,
)

__all__ = [
    "DeliveryHeld",
    "DeliveryRefused",
    "Failure",
    "Limits",
    "LoadFailed",
    "LoadResult",
    "NotDelivered",
    "ReconciliationError",
    "SystemLoad",
    "choose",
    "export_partitions",
    "ingest_dates",
    "ingest_extract",
    "ingest_system",
    "is_delivered",
    "limits",
    "load_extract",
    "seal",
]
