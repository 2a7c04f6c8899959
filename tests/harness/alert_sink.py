"""An alert hook for the tests (``KAIROS_ALERT_HOOK=tests.harness.alert_sink:record``): appends
each alert to the file named by ``KAIROS_TEST_ALERTS``."""

from __future__ import annotations

import json
import os


def record(text: str, info: dict) -> None:
    with open(os.environ["KAIROS_TEST_ALERTS"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"text": text, "info": info}, ensure_ascii=False) + "\n")
