"""The warehouse built on Spark beside DuckDB (``KAIROS_ENGINES=duckdb,spark``).

Kairos's environment holds no Spark: :func:`build` runs ``spark/build.py`` with
the Python of the Spark environment (``make spark-setup``; ``KAIROS_SPARK_PYTHON``), for
one business date, reading the raw layer from the lake (``KAIROS_LAKE``). The driver's
output goes to the log line by line as it comes; what failed is kept for the error.

The Spark build writes nothing DuckDB holds, so the task running it takes the Spark
pool, not the DuckDB writer's (``kairos.orchestration``): ingestion and the DuckDB build
go on beside it.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import subprocess
import time

from kairos.config import Settings, child_environment

log = logging.getLogger(__name__)

# the Airflow pool of the tasks that build on Spark (its slots: KAIROS_SPARK_POOL_SLOTS)
POOL = "kairos_spark_build"

# the driver's lines that say what failed (spark/build.py prints them)
FAILED_MARK = "spark-build: failed "
STEP_MARK = "spark-build: dbt "
TAIL_LINES = 20


class SparkBuildFailed(RuntimeError):
    """The Spark build of a date did not finish: a model or test failed, or Spark did."""


def build(cfg: Settings, day: dt.date) -> dict:
    """Build the date on Spark; return the steps' timings. Raises SparkBuildFailed."""
    python = cfg.spark_interpreter
    if not python.exists():
        raise SparkBuildFailed(
            f"no Spark environment at {python}: run `make spark-setup`, or set"
            " KAIROS_SPARK_PYTHON to the Python that has dbt-spark and pyspark"
        )
    if cfg.lake is None:
        raise SparkBuildFailed("KAIROS_LAKE is not set: the Spark build reads its raw layer there")
    argv = [str(python), str(cfg.project_dir / "spark" / "build.py"), f"--date={day}"]
    env = child_environment(
        {
            "KAIROS_HOME": str(cfg.home),
            "KAIROS_LAKE": str(cfg.lake),
            "KAIROS_PROJECT_DIR": str(cfg.project_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    started = time.monotonic()
    failed, steps = [], []
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    proc = subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        cwd=cfg.project_dir,
    )
    try:
        for line in proc.stdout:
            line = line.rstrip()
            log.info("%s", line)
            tail.append(line)
            if line.startswith(FAILED_MARK):
                failed.append(line[len(FAILED_MARK) :])
            elif line.startswith(STEP_MARK):
                steps.append(line[len(STEP_MARK) :])
        code = proc.wait()
    finally:
        if proc.poll() is None:  # the task is being stopped: stop Spark with it
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    seconds = time.monotonic() - started
    if code != 0:
        what = failed or [line for line in tail if line][-3:] or [f"exit status {code}"]
        raise SparkBuildFailed(
            f"Spark build of {day} failed (exit status {code}, {seconds:.0f} s):\n  "
            + "\n  ".join(w[:500] for w in what[:20])
        )
    log.info("Spark build of %s: %.1f s", day, seconds)
    return {"seconds": round(seconds, 1), "steps": steps}
