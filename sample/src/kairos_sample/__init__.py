"""The sample-extract generator: a complete, contract-conformant delivery of BOSS, CRM
and BI for a range of business dates, with known effects planted and written to a
ground-truth manifest beside it.

``generate`` streams: subscribers are simulated in chunks (``world.CHUNK``) and each
chunk's lines are encoded and appended to the open data files, so memory stays flat
as the number of subscribers grows. Output is byte-identical for the same arguments, so
running the same command again *is* a duplicate delivery.

Layout under ``out`` (the landing area):
    <system>/<YYYYMMDD>/<SYSTEM>_<EXTRACT>_<YYYYMMDD>.dat and .ctl
    _late/<system>/<YYYYMMDD>/...ctl           control files held back by ``late`` faults
    _ground_truth/manifest.json                 parameters, files, activities, faults
    _ground_truth/customers.csv.gz              each customer's planted truth
    _ground_truth/key_moments_<YYYYMMDD>.csv.gz planted key moments of each day
    _ground_truth/opt_outs_<YYYYMMDD>.csv.gz    customers who opted out on a task that day
"""

from kairos_sample.delivery import (
    DEFAULT_SEED,
    DEFAULT_SUBSCRIBERS,
    FAULT_KINDS,
    MALFORMED_KINDS,
    ExtractWriter,
    Fault,
    Progress,
    generate,
    last_delivery,
    release_late,
)
from kairos_sample.planting import Planting, PlantingError

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_SUBSCRIBERS",
    "FAULT_KINDS",
    "MALFORMED_KINDS",
    "ExtractWriter",
    "Fault",
    "Planting",
    "PlantingError",
    "Progress",
    "generate",
    "last_delivery",
    "release_late",
]
