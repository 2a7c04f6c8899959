"""Alerts: where a failure, or a list withheld, reaches people.

``send`` calls the configured alert hook (``KAIROS_ALERT_HOOK``, ``module:function``,
called with the text and a dict of details) -- where a team plugs in e-mail or IM --
and otherwise logs an error.
In Airflow it is called by the failure callback every Kairos task carries
(:class:`kairos.orchestration.KairosNotifier`); ``kairos publish`` calls it itself.
Texts carry identifiers, counts and reasons, never file content or customer data.
"""

from __future__ import annotations

import importlib
import logging

from kairos.config import Settings

log = logging.getLogger(__name__)


def send(cfg: Settings, text: str, info: dict, severity: str = "error") -> None:
    """Deliver one alert; a broken hook is logged, never raised over the failure."""
    info = {**info, "severity": severity}
    hook = cfg.alert_hook
    if not hook:
        log.log(logging.ERROR if severity == "error" else logging.WARNING, "ALERT %s", text)
        return
    module, _, func = hook.partition(":")
    try:
        getattr(importlib.import_module(module), func)(text, info)
    except Exception:  # an alert hook must never hide the failure it reports
        log.exception("alert hook %s failed", hook)
