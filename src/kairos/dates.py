"""The operator's calendar: which business date a run works on.

Extracts arrive overnight (T+1): a business date is a day in the operator's time zone
(Asia/Shanghai), and the daily run for it starts at 06:00 on the next day. The DAGs'
schedule, their date resolution, ``dag.test()`` runs and the demo all use these.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

TIMEZONE = "Asia/Shanghai"
RUN_HOUR = 6
SCHEDULE = f"0 {RUN_HOUR} * * *"  # cron, in TIMEZONE


def business_date_of_run(when: dt.datetime) -> dt.date:
    """The business date a run started (or scheduled) at ``when`` works on: the day
    before, in the operator's time zone."""
    if when.tzinfo is None:
        raise ValueError("a run's time needs a time zone")
    return when.astimezone(ZoneInfo(TIMEZONE)).date() - dt.timedelta(days=1)


def run_time_for(business_date: dt.date) -> dt.datetime:
    """When the scheduled run for ``business_date`` starts: 06:00 the next day."""
    return dt.datetime.combine(
        business_date + dt.timedelta(days=1), dt.time(RUN_HOUR), tzinfo=ZoneInfo(TIMEZONE)
    )


def yesterday(now: dt.datetime | None = None) -> dt.date:
    """The latest business date whose extracts are due: yesterday in the operator's zone."""
    return business_date_of_run(now or dt.datetime.now(dt.UTC))


def today(now: dt.datetime | None = None) -> dt.date:
    """Today in the operator's time zone: no business date can be later."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(TIMEZONE)).date()


def utc_now() -> dt.datetime:
    """Now in UTC, without a zone: how the audit tables keep their times (a ``TIMESTAMP``
    is UTC in the warehouse, whatever the host's zone)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def local_text(when: dt.datetime) -> str:
    """A time as people at the operator read it: in Asia/Shanghai, to the second, with
    its offset. A time without a zone is UTC (the audit tables')."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%d %H:%M:%S %z")
