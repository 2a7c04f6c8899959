"""Kairos's configuration: every path and setting in one :class:`Settings`.

``Settings.from_env()`` reads it once, at an edge (the command line, an Airflow task, the
portal's start); everything below takes the ``Settings`` it is given and reads no
environment variable itself. :data:`VARIABLES` lists every variable, its default and
what it does; ``docs/configuration.md`` is generated from it (``kairos config-doc``), and
``make lint`` fails when the page and the table differ.

A secret not set in the environment is a key file under ``$KAIROS_HOME/secrets``, made
once (random, mode 0600, written whole before it appears); a secret shorter than 32
bytes stops the run with an error naming its variable or file. Secrets are never in the
repository, a log or a ``repr``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_MARKER = "dbt_project.yml"
SECRET_VARIABLES = (
    "KAIROS_PSEUDONYM_KEY",
    "KAIROS_PORTAL_SECRET",
    "AIRFLOW__API_AUTH__JWT_SECRET",
)


class ConfigError(RuntimeError):
    """The configuration does not say where something is, or says it wrongly."""


@dataclass(frozen=True)
class Settings:
    """Every location and setting of one Kairos installation."""

    home: Path
    warehouse: Path
    landing: Path
    airflow_home: Path
    project: Path | None = None
    alert_hook: str | None = None
    retry_delay_s: float = 60.0
    sensor_poke_s: float = 300.0
    sensor_timeout_s: float = 6 * 3600.0
    writer_lock_timeout_s: float = 3600.0
    duckdb_memory_limit: str | None = None
    max_file_bytes: int = 64 * 1024**3
    max_line_bytes: int = 1024 * 1024
    hold_below: float = 0.5
    publish_retention: int = 30
    # days working files (gate results, Data Docs, task logs) and audit records
    # (publishing reports and outcomes, the portal's audit log) are kept
    work_retention_days: int = 30
    audit_retention_days: int = 400
    portal_insecure_http: bool = False
    portal_trusted_proxy: str | None = None
    lake: Path | None = None
    # the Airflow queue every Kairos task is sent to (CeleryExecutor: the queue the
    # workers on the data root's host serve); None: Airflow's default queue
    task_queue: str | None = None
    # the analysts' snapshot: "update" the other generation, "copy" the file, or "auto"
    snapshot_mode: str = "auto"
    # the engines the warehouse is built on; DuckDB always (publishing reads its snapshot)
    engines: tuple[str, ...] = ("duckdb",)
    spark_python: Path | None = None
    spark_pool_slots: int = 1
    # secrets given in the environment, by variable name; never shown
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from ``environ`` (default: this process's environment)."""
        env = os.environ if environ is None else environ
        project = _find_project(env.get("KAIROS_PROJECT_DIR"))
        home = Path(env.get("KAIROS_HOME") or (project or Path.cwd()) / "var").resolve()
        return cls(
            home=home,
            warehouse=Path(env.get("KAIROS_WAREHOUSE") or home / "warehouse" / "kairos.duckdb"),
            landing=Path(env.get("KAIROS_LANDING") or home / "landing"),
            airflow_home=Path(env.get("AIRFLOW_HOME") or home / "airflow"),
            project=project,
            alert_hook=env.get("KAIROS_ALERT_HOOK") or None,
            retry_delay_s=_number(env, "KAIROS_RETRY_DELAY_S", 60),
            sensor_poke_s=_number(env, "KAIROS_SENSOR_POKE_S", 300),
            sensor_timeout_s=_number(env, "KAIROS_SENSOR_TIMEOUT_S", 6 * 3600),
            writer_lock_timeout_s=_number(env, "KAIROS_WRITER_LOCK_TIMEOUT", 3600),
            duckdb_memory_limit=env.get("KAIROS_DUCKDB_MEMORY_LIMIT") or None,
            max_file_bytes=int(_number(env, "KAIROS_MAX_FILE_BYTES", 64 * 1024**3)),
            max_line_bytes=int(_number(env, "KAIROS_MAX_LINE_BYTES", 1024 * 1024)),
            hold_below=_number(env, "KAIROS_HOLD_BELOW", 0.5),
            publish_retention=int(_number(env, "KAIROS_PUBLISH_RETENTION", 30)),
            work_retention_days=int(_number(env, "KAIROS_WORK_RETENTION_DAYS", 30)),
            audit_retention_days=int(_number(env, "KAIROS_AUDIT_RETENTION_DAYS", 400)),
            portal_insecure_http=env.get("KAIROS_PORTAL_INSECURE_HTTP") == "1",
            portal_trusted_proxy=env.get("KAIROS_PORTAL_TRUSTED_PROXY") or None,
            lake=Path(env["KAIROS_LAKE"]).resolve() if env.get("KAIROS_LAKE") else None,
            task_queue=env.get("KAIROS_TASK_QUEUE") or None,
            snapshot_mode=_choice(env, "KAIROS_SNAPSHOT_MODE", ("auto", "update", "copy")),
            engines=_engines(env.get("KAIROS_ENGINES")),
            spark_python=_path(env.get("KAIROS_SPARK_PYTHON")),
            spark_pool_slots=_slots(env, "KAIROS_SPARK_POOL_SLOTS"),
            secrets={k: env[k] for k in SECRET_VARIABLES if env.get(k)},
        )

    # -- the project's resources ------------------------------------------------------
    @property
    def project_dir(self) -> Path:
        """The Kairos project (dbt project, seeds, suites, DAGs, Airflow configuration)."""
        if self.project is None:
            raise ConfigError(
                "cannot find the Kairos project: set KAIROS_PROJECT_DIR to the folder holding"
                " dbt_project.yml (with seeds/, expectations/, dags/), or run from inside it"
            )
        return self.project

    @property
    def expectations_dir(self) -> Path:
        return self.project_dir / "expectations"

    @property
    def dags_dir(self) -> Path:
        return self.project_dir / "dags"

    @property
    def plugins_dir(self) -> Path:
        return self.project_dir / "plugins"

    @property
    def airflow_config(self) -> Path:
        return self.project_dir / "config" / "airflow.cfg"

    @property
    def spark_interpreter(self) -> Path:
        """The Python of the Spark environment (``make spark-setup`` makes the default)."""
        return self.spark_python or self.project_dir / ".venv-spark" / "bin" / "python"

    # -- places under the data root -----------------------------------------------------
    @property
    def writer_lock(self) -> Path:
        """The lock file every DuckDB writer holds while it writes the warehouse."""
        return self.warehouse.with_name(self.warehouse.name + ".writer.lock")

    @property
    def work_dir(self) -> Path:
        """Scratch space for transcoded extracts; emptied by each load."""
        return self.home / "work"

    @property
    def dbt_target_dir(self) -> Path:
        return self.home / "dbt" / "target"

    @property
    def dbt_log_dir(self) -> Path:
        return self.home / "dbt" / "logs"

    @property
    def docs_site_dir(self) -> Path:
        """The dbt docs site as served: index, manifest and catalog, server paths removed."""
        return self.home / "docs-site"

    @property
    def quality_dir(self) -> Path:
        return self.home / "quality"

    @property
    def publish_dir(self) -> Path:
        return self.home / "publish"

    @property
    def portal_audit_log(self) -> Path:
        """The portal's audit (JSON lines, 0600): sign-ins, downloads, decisions."""
        return self.publish_dir / "_audit" / "downloads.jsonl"

    @property
    def snapshot(self) -> Path:
        """The analysts' read-only copy of the warehouse."""
        return self.home / "snapshot" / "kairos.duckdb"

    def secret(self, env: str, name: str) -> str:
        """The secret ``env`` if the environment gave it, else the key file
        ``$KAIROS_HOME/secrets/<name>``, made once (random, mode 0600) if missing.

        A key file appears whole or not at all: it is written to a private temporary
        file and linked into place, so two processes starting together agree on one key
        and neither ever reads an empty one. A secret shorter than ``MIN_SECRET_BYTES``
        (an empty file, a typo'd variable) raises SecretError naming where it came from,
        never its value: a short key is one anyone can guess."""
        if value := self.secrets.get(env):
            if len(value.encode()) < MIN_SECRET_BYTES:
                raise SecretError(
                    f"{env} is {len(value.encode())} bytes long; a key needs at least"
                    f" {MIN_SECRET_BYTES} (e.g. python -c 'import secrets;"
                    " print(secrets.token_hex(32))')"
                )
            return value
        path = self.home / "secrets" / name
        try:
            return _read_key(path)
        except FileNotFoundError:
            _make_key(path)
        return _read_key(path)


MIN_SECRET_BYTES = 32


class SecretError(RuntimeError):
    """A secret that must not be used (too short, empty, unreadable)."""


def _read_key(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(4096)
    text = data.decode("utf-8", errors="replace").strip()
    if len(text.encode()) < MIN_SECRET_BYTES:
        raise SecretError(
            f"the key file {path} holds {len(text.encode())} bytes; a key needs at least"
            f" {MIN_SECRET_BYTES}. Put the right key back, or remove the file to have a new"
            " one made (for the pseudonym key that changes every customer_key)"
        )
    return text


def _make_key(path: Path) -> None:
    """A new random key at ``path`` unless another process made one first."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process's key won
            os.link(tmp, path)  # atomic, and never over an existing key
    finally:
        tmp.unlink(missing_ok=True)


def child_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    """The environment of a program Kairos starts (the Spark driver): this process's
    (``PATH``, ``JAVA_HOME``, the locale), with ``overrides`` -- the settings the child
    must share -- over it."""
    return {**os.environ, **overrides}


@contextlib.contextmanager
def environment_variable(name: str, value: str | None) -> Iterator[None]:
    """``name`` set to ``value`` (unset for None) in this process's environment for the
    block, then as it was: how a value reaches a library that reads the environment in
    this process (the business date, for dbt's ``env_var``). A value the caller's
    environment held is set aside for the block, not inherited."""
    previous = os.environ.pop(name, None)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)
        if previous is not None:
            os.environ[name] = previous


def _find_project(explicit: str | None) -> Path | None:
    if explicit:
        path = Path(explicit).resolve()
        if not (path / PROJECT_MARKER).is_file():
            raise ConfigError(f"KAIROS_PROJECT_DIR={path} holds no {PROJECT_MARKER}")
        return path
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_MARKER).is_file() and (folder / "expectations").is_dir():
            return folder
    return None


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return float(default)
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None


ENGINES = ("duckdb", "spark")


def _path(raw: str | None) -> Path | None:
    return Path(raw) if raw else None


def _slots(env: Mapping[str, str], name: str) -> int:
    value = _number(env, name, 1)
    if value < 1 or value != int(value):
        raise ConfigError(f"{name} must be a whole number of at least 1, not {env.get(name)!r}")
    return int(value)


def _engines(raw: str | None) -> tuple[str, ...]:
    """``KAIROS_ENGINES``: DuckDB first, then any other engine named, each once."""
    named = [e.strip().lower() for e in (raw or "").split(",") if e.strip()]
    if unknown := sorted(set(named) - set(ENGINES)):
        raise ConfigError(
            f"KAIROS_ENGINES names unknown engines {', '.join(unknown)};"
            f" known: {', '.join(ENGINES)}"
        )
    return tuple(e for e in ENGINES if e == "duckdb" or e in named)


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """``env[name]`` if it is one of ``choices`` (unset: the first)."""
    raw = env.get(name)
    if not raw:
        return choices[0]
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


# Every variable Kairos reads, with its default and what it does: the one source of
# docs/configuration.md (``kairos config-doc``; tests/test_cli.py checks that every name
# read here is listed).
VARIABLES: tuple[tuple[str, str, str], ...] = (
    (
        "KAIROS_PROJECT_DIR",
        "the current directory or its nearest parent with `dbt_project.yml` (`make` sets the "
        "checkout)",
        "the Kairos project: `dbt_project.yml`, `dbt_project/`, `seeds/`, `expectations/`, "
        "`dags/`, `plugins/`, `spark/`, `config/airflow.cfg`",
    ),
    (
        "KAIROS_HOME",
        "`<project>/var`",
        "the data root (git-ignored)",
    ),
    (
        "KAIROS_WAREHOUSE",
        "`$KAIROS_HOME/warehouse/kairos.duckdb`",
        "the DuckDB file",
    ),
    (
        "KAIROS_LANDING",
        "`$KAIROS_HOME/landing`",
        "where the source systems deliver their extracts",
    ),
    (
        "KAIROS_LAKE",
        "unset (not written)",
        "where sealing also writes each raw partition as Parquet, for the Spark build",
    ),
    (
        "KAIROS_ENGINES",
        "`duckdb`",
        "the engines the warehouse is built on: `duckdb,spark` adds the `build_warehouse_spark` "
        "DAG (needs `KAIROS_LAKE`); DuckDB is always one (publishing reads its snapshot)",
    ),
    (
        "KAIROS_SPARK_PYTHON",
        "`<project>/.venv-spark/bin/python`",
        "the Python of the Spark environment that runs `spark/build.py`",
    ),
    (
        "KAIROS_SPARK_POOL_SLOTS",
        "1",
        "Spark builds at once: the slots of the `kairos_spark_build` pool (1 for a local session's"
        " metastore)",
    ),
    (
        "KAIROS_SPARK_DRIVER_MEMORY",
        "`3g`",
        "the local Spark driver's memory (`profiles.yml`, target `spark`)",
    ),
    (
        "KAIROS_TASK_QUEUE",
        "unset (Airflow's default queue)",
        "the queue of every Kairos task, for a distributed executor (docs/orchestration.md)",
    ),
    (
        "AIRFLOW_HOME",
        "`$KAIROS_HOME/airflow`",
        "Airflow's home: the SQLite metadata DB, task logs, the generated admin password",
    ),
    (
        "AIRFLOW_CONFIG",
        "set by `kairos scheduler`, `kairos airflow`, `kairos airflow-env`",
        "`config/airflow.cfg` of the project",
    ),
    (
        "KAIROS_SENSOR_POKE_S",
        "300",
        "how often a delivery sensor looks for the control file",
    ),
    (
        "KAIROS_SENSOR_TIMEOUT_S",
        "21600",
        "how long a delivery sensor waits before it skips softly, with an alert",
    ),
    (
        "KAIROS_RETRY_DELAY_S",
        "60",
        "delay before a load task is retried",
    ),
    (
        "KAIROS_WRITER_LOCK_TIMEOUT",
        "3600",
        "seconds a writer waits for the warehouse before it refuses, naming the holder",
    ),
    (
        "KAIROS_DUCKDB_MEMORY_LIMIT",
        "DuckDB's (80% of RAM)",
        "DuckDB's `memory_limit` for the writers (ingestion and the dbt build), e.g. `4GB`",
    ),
    (
        "KAIROS_SNAPSHOT_MODE",
        "`auto`",
        "how the analysts' snapshot is made: `update` the other generation (`auto`, the"
        " default, is the same), or `copy`: write a whole new generation every time",
    ),
    (
        "KAIROS_ALERT_HOOK",
        "unset (alerts are logged)",
        "`module:function(text, info)` called with every alert: a failed task, a missed delivery, "
        "a withheld list, history built over missing dates",
    ),
    (
        "KAIROS_MAX_FILE_BYTES",
        "68719476736 (64 GiB)",
        "largest data file accepted (its control file's size)",
    ),
    (
        "KAIROS_MAX_LINE_BYTES",
        "1048576 (1 MiB)",
        "longest line accepted; reading stops there and the file is refused",
    ),
    (
        "KAIROS_HOLD_BELOW",
        "0.5",
        "a delivery with fewer rows than this share of the last good one is held (`kairos ingest "
        "--force` loads it)",
    ),
    (
        "KAIROS_PUBLISH_RETENTION",
        "30",
        "business dates of published lists kept",
    ),
    (
        "KAIROS_WORK_RETENTION_DAYS",
        "30",
        "days working files are kept: gate results and Data Docs, dbt and Airflow logs",
    ),
    (
        "KAIROS_AUDIT_RETENTION_DAYS",
        "400",
        "days audit records are kept: publishing reports and outcomes, the portal's audit log "
        "(longer than working files: they answer who got which list)",
    ),
    (
        "KAIROS_PORTAL_INSECURE_HTTP",
        "unset",
        "`1` for plain-HTTP local use (`make portal` sets it): the session cookie is not `Secure` "
        "and no HSTS is sent",
    ),
    (
        "KAIROS_PORTAL_TRUSTED_PROXY",
        "unset",
        "address of the reverse proxy whose `X-Forwarded-For` the portal believes; otherwise the "
        "socket's address is audited",
    ),
    (
        "KAIROS_PSEUDONYM_KEY",
        "key file in `$KAIROS_HOME/secrets`",
        "secret: the key of the customer pseudonym in the lists",
    ),
    (
        "KAIROS_PORTAL_SECRET",
        "key file in `$KAIROS_HOME/secrets`",
        "secret: signs the portal's session cookies",
    ),
    (
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "key file in `$KAIROS_HOME/secrets`",
        "secret: the Airflow API's JWT key, shared by every Airflow process",
    ),
)


def render_variables() -> str:
    """docs/configuration.md: :data:`VARIABLES` as a page."""
    lines = [
        "# Configuration",
        "",
        "<!-- generated from kairos.config.VARIABLES by `kairos config-doc`; do not edit -->",
        "",
        "Kairos reads its settings once, with `kairos.config.Settings.from_env()`, at an edge",
        "(the command line, an Airflow task, a DAG file being parsed) and passes them down.",
        "Nothing below that reads the environment. An installed wheel finds its dbt project,",
        "seeds, suites, DAGs and Airflow configuration through `KAIROS_PROJECT_DIR`.",
        "",
        "| variable | default | what |",
        "|---|---|---|",
    ]
    lines += [f"| `{name}` | {default} | {what} |" for name, default, what in VARIABLES]
    lines += [
        "",
        "A secret not set in the environment is a key file under `$KAIROS_HOME/secrets`. It is",
        "made once: random, mode 0600, written whole before it appears. A secret shorter than",
        f"{MIN_SECRET_BYTES} bytes stops the run with an error naming its variable or file.",
        "",
        "dbt's own knobs (contact policy, preference look-back, pool threshold) are `vars` in",
        "`dbt_project.yml`; the warning rules' thresholds are the seed `warning_rules`.",
    ]
    return "\n".join(lines) + "\n"
