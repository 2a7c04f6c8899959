"""Where Kairos keeps its data, each location overridable by environment.

``KAIROS_HOME`` (default ``<repo>/var``) is the data root; the warehouse file, the
landing area and the Airflow home live inside it unless ``KAIROS_WAREHOUSE``,
``KAIROS_LANDING`` or ``AIRFLOW_HOME`` say otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    """Resolved locations of one Kairos installation."""

    home: Path
    warehouse: Path
    landing: Path
    airflow_home: Path

    @property
    def writer_lock(self) -> Path:
        """The lock file every DuckDB writer holds while it writes the warehouse."""
        return self.warehouse.with_name(self.warehouse.name + ".writer.lock")

    def secret(self, env: str, name: str) -> str:
        """A secret from the environment variable ``env``, else from the key file
        ``$KAIROS_HOME/secrets/<name>``, made once (random, mode 0600) if missing.
        Secrets are configuration: never in the repository."""
        if value := os.environ.get(env):
            return value
        path = self.home / "secrets" / name
        if not path.exists():
            import secrets

            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first
                return path.read_text().strip()
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip()

    @property
    def work_dir(self) -> Path:
        """Scratch space for transcoded extracts; emptied by each load."""
        return self.home / "work"


def settings() -> Settings:
    """Read the locations from the environment (call it at run time, never at import)."""
    home = Path(os.environ.get("KAIROS_HOME") or REPO_ROOT / "var").resolve()
    warehouse = Path(os.environ.get("KAIROS_WAREHOUSE") or home / "warehouse" / "kairos.duckdb")
    landing = Path(os.environ.get("KAIROS_LANDING") or home / "landing")
    airflow_home = Path(os.environ.get("AIRFLOW_HOME") or home / "airflow")
    return Settings(home=home, warehouse=warehouse, landing=landing, airflow_home=airflow_home)
