"""One business date's ingestion: each extract loaded under the writer lock, the day
sealed for the build."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from kairos import contract
from kairos.config import Settings
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
from kairos.warehouse.store import connect_writer, seal_delivery

__all__ = [
    "DeliveryHeld",
    "DeliveryRefused",
    "LoadFailed",
    "LoadResult",
    "NotDelivered",
    "ReconciliationError",
    "SystemLoad",
    "ingest_dates",
    "ingest_extract",
    "ingest_system",
    "is_delivered",
    "seal",
]

log = logging.getLogger(__name__)


def is_delivered(cfg: Settings, extract_key: str, business_date: dt.date) -> bool:
    """True once the extract's control file for the date is in the landing area."""
    return contract.get(extract_key).control_path(cfg.landing, business_date).exists()


def ingest_extract(
    cfg: Settings,
    extract_key: str,
    business_date: dt.date,
    *,
    dag_run_id: str | None = None,
    force: bool = False,
) -> LoadResult:
    """Load one extract of one date under the warehouse writer lock."""
    extract = contract.get(extract_key)
    with connect_writer(cfg) as con:
        return load_extract(
            con,
            extract,
            business_date,
            cfg.landing,
            cfg.work_dir,
            dag_run_id=dag_run_id,
            force=force,
            limits=limits(cfg),
        )


@dataclasses.dataclass
class SystemLoad:
    """What loading one system's delivery of one date came to, extract by extract."""

    system: str
    business_date: dt.date
    results: list[LoadResult] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)  # extract -> why
    not_delivered: list[str] = dataclasses.field(default_factory=list)
    not_sealed: list[str] = dataclasses.field(default_factory=list)  # no good latest load

    @property
    def complete(self) -> bool:
        return not (self.failed or self.not_delivered or self.not_sealed)

    def summary(self) -> dict:
        return {
            "business_date": self.business_date.isoformat(),
            "system": self.system,
            "rows_loaded": sum(r.rows_loaded for r in self.results),
            "rows_quarantined": sum(r.rows_quarantined for r in self.results),
            "extracts": {
                **{r.extract: r.status for r in self.results},
                **{name: "failed" for name in self.failed},
                **{name: "not delivered" for name in self.not_delivered},
            },
        }


def ingest_system(
    cfg: Settings, system: str, business_date: dt.date, *, dag_run_id: str | None = None
) -> SystemLoad:
    """Load every extract of ``system`` delivered for the date, in the contract's order,
    in one writer session, then seal the day when every extract has a good latest load.

    An extract that is refused or fails does not stop the others; each load has its own
    ledger row. Bytes already loaded well are not loaded again (the ledger's identical
    re-delivery), so running this again -- a retry -- re-loads only what failed or
    arrived since."""
    out = SystemLoad(system, business_date)
    with connect_writer(cfg) as con:
        for e in contract.for_system(system):
            try:
                out.results.append(
                    load_extract(
                        con,
                        e,
                        business_date,
                        cfg.landing,
                        cfg.work_dir,
                        dag_run_id=dag_run_id,
                        limits=limits(cfg),
                    )
                )
            except NotDelivered:
                out.not_delivered.append(e.key)
            except (DeliveryRefused, LoadFailed) as exc:
                out.failed[e.key] = str(exc)
        if not (out.failed or out.not_delivered):
            out.not_sealed = _seal(con, cfg, system, business_date)
    return out


def limits(cfg: Settings) -> Limits:
    return Limits(
        max_file_bytes=cfg.max_file_bytes,
        max_line_bytes=cfg.max_line_bytes,
        hold_below=cfg.hold_below,
    )


def seal(cfg: Settings, system: str, business_date: dt.date) -> list[str]:
    """Seal the system's delivery for the date (see ``seal_delivery``); return the
    extracts without a good latest load (nothing sealed then)."""
    with connect_writer(cfg) as con:
        return _seal(con, cfg, system, business_date)


def _seal(con, cfg: Settings, system: str, business_date: dt.date) -> list[str]:
    """Seal, and write the sealed partitions to the lake when there is one."""
    missing = seal_delivery(con, system, business_date)
    if not missing and cfg.lake is not None:
        export_partitions(con, cfg.lake, system, business_date)
    return missing


def choose(systems: list[str] | None, extracts: list[str] | None) -> list[contract.Extract]:
    """The contract's extracts named by ``systems`` / ``extracts`` (all when neither);
    ValueError naming any name the contract does not know."""
    unknown = sorted(set(systems or ()) - set(contract.systems()))
    unknown += sorted(set(extracts or ()) - {e.key for e in contract.extracts()})
    if unknown:
        known = ", ".join(e.key for e in contract.extracts())
        raise ValueError(f"not in the contract: {', '.join(unknown)} (extracts: {known})")
    return [
        e
        for e in contract.extracts()
        if (not systems or e.system in systems) and (not extracts or e.key in extracts)
    ]


@dataclasses.dataclass(frozen=True)
class Failure:
    extract: str
    business_date: dt.date
    error: str


def ingest_dates(
    cfg: Settings,
    first: dt.date,
    last: dt.date,
    systems: list[str] | None = None,
    extracts: list[str] | None = None,
    force: bool = False,
) -> tuple[list[LoadResult], list[Failure]]:
    """Load every extract of every date in [first, last]; a failure does not stop the rest.

    After each date, each system all of whose extracts loaded well is sealed for it."""
    chosen = choose(systems, extracts)
    results: list[LoadResult] = []
    failures: list[Failure] = []
    day = first
    while day <= last:
        # One writer session per date: the lock is held for the day's extracts, not for
        # the whole range, so DAG runs can interleave with a long backfill.
        with connect_writer(cfg) as con:
            for e in chosen:
                try:
                    results.append(
                        load_extract(
                            con, e, day, cfg.landing, cfg.work_dir, force=force, limits=limits(cfg)
                        )
                    )
                except (NotDelivered, DeliveryRefused, LoadFailed) as exc:
                    failures.append(Failure(e.key, day, str(exc)))
            for system in sorted({e.system for e in chosen}):
                _seal(con, cfg, system, day)
        day += dt.timedelta(days=1)
    return results, failures
