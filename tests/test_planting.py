"""Truth from the manifest (issue 34): what the generator plants is one object
(kairos_sample.planting); the ground-truth manifest is written from it, and
``kairos evaluate`` reads the truth only from the manifest. A delivery planted with
other values than the shipped ones -- every brand's KANO classes reversed, other rules
with effects, another harmful rule -- is generated, ingested and built for real, and
``kairos evaluate`` scores the marts right against what it holds."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from kairos import warehouse
from kairos.ingest import ingest_dates
from kairos_sample import execution, planting
from kairos_sample.planting import Planting, PlantingError
from tests.conftest import module_home
from tests.support import PROJECT

pytestmark = pytest.mark.slow

REVERSED = {"must_be": "attractive", "attractive": "must_be", "one_dimensional": "one_dimensional"}
DAYS = [dt.date(2026, 11, 1), dt.date(2026, 11, 2)]  # the screening surveys' days


def _planting_file(path) -> dict:
    shipped = Planting.shipped()
    doc = {
        # every must-be an attractive need and back: 8 of the 18 classes change
        "kano": {b: {i: REVERSED[c] for i, c in v.items()} for b, v in shipped.kano.items()},
        "goal_effects": {"KM10_NON_4G_DEVICE": 0.3, "KM06_LOW_BALANCE": 0.2},
        "harm": {"KM05_PLAN_OVERSIZED": 0.1},
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return doc


def _cli(*args, env=None, check=True):
    return subprocess.run(
        [sys.executable, "-m", "kairos.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=check,
        cwd=PROJECT,
        timeout=600,
    )


@pytest.fixture(scope="module")
def replanted(tmp_path_factory):
    """Two days of 80,000 subscribers planted otherwise, through `kairos generate
    --plant`, ingested and built."""
    mp, cfg = module_home(tmp_path_factory, "replanted")
    try:
        doc = _planting_file(cfg.home / "planting.json")
        env = {**os.environ}
        _cli(
            "generate",
            "--date",
            DAYS[0].isoformat(),
            "--days",
            "2",
            "--subscribers",
            "80000",
            "--seed",
            "3",
            "--plant",
            str(cfg.home / "planting.json"),
            "--quiet",
            env=env,
        )
        warehouse.seed(cfg)
        for day in DAYS:
            _, failures = ingest_dates(cfg, day, day)
            assert failures == []
            for layer in warehouse.LAYERS:
                warehouse.build_layer(cfg, layer, day)
        yield cfg, doc, env
    finally:
        mp.undo()


def test_the_manifest_says_what_was_planted(replanted):
    cfg, doc, _ = replanted
    with (cfg.landing / "_ground_truth" / "manifest.json").open(encoding="utf-8") as fh:
        planted = json.load(fh)["planted"]
    assert planted["kano"] == doc["kano"]
    effects = planted["task_execution"]["effects"]
    assert {r: e["share"] for r, e in effects["goal_event_share_of_reached"].items()} == doc[
        "goal_effects"
    ]
    assert effects["complaint_share_of_reached"] == doc["harm"]
    assert "KM01_DATA_QUOTA_RISK" in effects["zero_effect_rules"]
    assert "KM10_NON_4G_DEVICE" not in effects["zero_effect_rules"]
    assert Planting.from_manifest(planted) == Planting.shipped().replaced(doc)


def test_kairos_evaluate_scores_the_marts_against_the_manifest(replanted):
    """The KANO mart follows the reversed classes, and evaluate -- reading the manifest --
    calls them right; an undetermined class is its own outcome."""
    cfg, doc, env = replanted
    out = _cli("evaluate", env={**env, "KAIROS_HOME": str(cfg.home)}).stdout
    section = out.split("KANO classes per brand: named vs planted")[1].split("\n\n")[0]
    rows = [
        ln.split() for ln in section.splitlines() if ln.split()[:1] in ([b] for b in doc["kano"])
    ]
    assert len(rows) == 18, section
    outcomes = [r[-1] for r in rows]
    assert "wrong" not in outcomes, section
    assert outcomes.count("right") >= 14, section
    assert set(outcomes) <= {"right", "undetermined"}
    # the classes that changed are among those named right
    changed = [r for r in rows if doc["kano"][r[0]][r[1]] != Planting.shipped().kano[r[0]][r[1]]]
    assert len(changed) == 8 and sum(r[-1] == "right" for r in changed) >= 7, section


def test_the_crm_plants_the_effects_in_force():
    """The execution reads the planting while it runs: KM10 moves its reached targets
    only when a planting says so."""
    u = np.array([0.05, 0.05, 0.5, 0.5])
    assert execution._effects(7, "KM10_NON_4G_DEVICE", "accepted", u) == []
    with planting.planted(
        Planting.shipped().replaced({"goal_effects": {"KM10_NON_4G_DEVICE": 0.1}})
    ):
        assert execution._effects(7, "KM10_NON_4G_DEVICE", "accepted", u) == [
            (7, "order", "KM10_NON_4G_DEVICE")
        ]
        assert execution._effects(7, "KM12_CONTRACT_ANNIVERSARY", "accepted", u) == [
            (7, "complaint", "KM12_CONTRACT_ANNIVERSARY")
        ]  # harm kept, its goal effect gone: goal_effects replaced whole
    assert planting.current() == Planting.shipped()


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ({"goal_effects": {"KM13_REPEATED_HOTLINE": 0.2}}, "cannot plant an effect of"),
        ({"goal_effects": {"KM01_DATA_QUOTA_RISK": 1.5}}, "a share is a number from 0 to 1"),
        ({"kano": {"gotone": {"network": "delightful"}}}, "kano.gotone.network"),
        ({"kano": {"apple": {}}}, "unknown brand"),
        ({"effects": {}}, "only kano, goal_effects and harm"),
    ],
)
def test_a_planting_that_cannot_be_planted_is_refused_with_its_path(tmp_path, doc, says):
    with pytest.raises(PlantingError, match=says):
        Planting.shipped().replaced(doc)
    bad = tmp_path / "plant.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    env = {**os.environ, "KAIROS_HOME": str(tmp_path / "home")}
    run = _cli(
        "generate",
        "--date",
        "2026-11-01",
        "--subscribers",
        "100",
        "--plant",
        str(bad),
        env=env,
        check=False,
    )
    assert run.returncode == 2 and says in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "home" / "landing").exists()  # nothing written


def test_the_generators_rules_and_goal_windows_are_the_seeds():
    with (PROJECT / "seeds" / "rule_goals.csv").open(encoding="utf-8") as fh:
        windows = {r["rule_code"]: int(r["goal_window_days"]) for r in csv.DictReader(fh)}
    assert windows == planting.GOAL_WINDOW
    assert tuple(sorted(windows)) == planting.RULES


def test_a_goal_effect_spreads_over_its_window():
    """k = floor(window u^2): every lag inside the window, most early; shown_by is its
    distribution function."""
    u = np.random.default_rng(3).random(100_000)
    for rule, window in planting.GOAL_WINDOW.items():
        lags = np.array([planting.lag_days(rule, x) for x in u[:20_000]])
        assert lags.min() == 0 and lags.max() == window - 1
        for d in (1, 2, window):
            assert (lags <= d - 1).mean() == pytest.approx(planting.shown_by(d, window), abs=0.02)
