"""Daily campaign target lists: built from the contact policy's dispatched tasks, written
to a staging directory, gated, then made visible in one atomic step.

Layout under ``$KAIROS_HOME/publish``::

    lists/<date>            symlink -> versions/<date>.<seq>   (what readers see)
    current                 symlink -> lists/<latest date>
    versions/<date>.<seq>/  immutable: <list>.csv, <list>.parquet, <list>.holdout.parquet,
                            <list>.diff.csv, manifest.json; call_sheets/<manager>.csv
                            (one per phone manager, in call order) and
                            call_sheets/call_sheets.parquet (all of them, as gated)
    _staging/<date>.<run>/  work in progress, never read by the portal
    _private/<date>.<seq>/  list row -> customer_id, for the list gate; never served
    _withheld/<date>.<seq>/ files of lists a list-level check withheld; never served
    _outcomes/<date>.json   what publishing did for the date (published, partial,
                            withheld, failed) and why: what the portal shows
    _reports/               one human-readable summary per run (success or failure)

Visibility changes only by renaming a new symlink over ``lists/<date>`` (atomic on
POSIX): a crash at any earlier point leaves yesterday's lists -- and an earlier version
of today's -- exactly as they were. A version's sequence number is new in ``versions``,
``_private`` and ``_withheld`` alike, so the leftovers of a crash between the renames
never block the next run; :func:`clean` removes them, staging folders of dead runs, and
every date beyond the retention (``KAIROS_PUBLISH_RETENTION`` business dates, 30 by
default; superseded versions of a kept date go too). Files holding personal data
(``_private``, ``_withheld``) are readable by their owner only (0600 in 0700 folders).
Republishing a date writes byte-identical list files (rows ordered by customer, no
timestamps in the files, keyed hash from configuration).

The rows come from the mart ``fct_target_list_members``; phone numbers are masked there
(``138****1234``) and never reach Python unmasked;
customers are identified by a keyed pseudonym (HMAC-SHA256 with a key from
``KAIROS_PSEUDONYM_KEY`` or ``$KAIROS_HOME/secrets/pseudonym.key``, never committed).
"""

from kairos.publish.lists import (
    CSV_ENCODING,
    LIST_COLUMNS,
    LIST_QUERY,
    LIST_SCHEMA,
    PRIVATE_SCHEMA,
    SHEET_COLUMNS,
    SHEET_QUERY,
    SHEETS_DIR,
    SHEETS_FILE,
    SUPPRESSION_QUERY,
    BuiltLists,
    _ListWriter,
    build_lists,
    customer_key,
    pseudonym_key,
    sha256_file,
)
from kairos.publish.store import (
    PRIVATE_ROOTS,
    PUBLISH_LOCK_WAIT_S,
    STAGING_GRACE_S,
    certify,
    clean,
    discard,
    latest_published,
    publish,
    publish_lock,
    published_dates,
    published_dir,
    settle_call_sheets,
    staging_dir,
    withhold,
    write_report,
)

__all__ = [
    "CSV_ENCODING",
    "LIST_COLUMNS",
    "LIST_QUERY",
    "LIST_SCHEMA",
    "PRIVATE_ROOTS",
    "PRIVATE_SCHEMA",
    "PUBLISH_LOCK_WAIT_S",
    "SHEETS_DIR",
    "SHEETS_FILE",
    "SHEET_COLUMNS",
    "SHEET_QUERY",
    "STAGING_GRACE_S",
    "SUPPRESSION_QUERY",
    "BuiltLists",
    "_ListWriter",
    "build_lists",
    "certify",
    "clean",
    "customer_key",
    "discard",
    "latest_published",
    "pseudonym_key",
    "publish",
    "publish_lock",
    "published_dates",
    "published_dir",
    "settle_call_sheets",
    "sha256_file",
    "staging_dir",
    "withhold",
    "write_report",
]
