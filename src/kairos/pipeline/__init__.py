"""The daily pipeline, defined once: the build steps and the dates they work on
(:mod:`~kairos.pipeline.build`), then the publishing steps (:mod:`~kairos.pipeline.daily`).
Airflow runs each step as a task; ``kairos build`` and ``kairos publish`` run the same
functions in one process."""

from kairos.pipeline.build import (
    BUILD_STEPS,
    GOOD_LOADS,
    SPARK_BUILD_STEPS,
    BuildPlan,
    PlanRefused,
    Step,
    build_dates,
    check_snapshot,
    complete_dates,
    full_refresh,
    plan_build,
    plan_publish,
    record_build,
    run_steps,
    snapshot_builds,
)
from kairos.pipeline.daily import PUBLISH_STEPS

__all__ = [
    "BUILD_STEPS",
    "GOOD_LOADS",
    "PUBLISH_STEPS",
    "SPARK_BUILD_STEPS",
    "BuildPlan",
    "PlanRefused",
    "Step",
    "build_dates",
    "check_snapshot",
    "complete_dates",
    "full_refresh",
    "plan_build",
    "plan_publish",
    "record_build",
    "run_steps",
    "snapshot_builds",
]
