"""TIE idea evaluation (docs/domain.md#tie-idea-evaluation): candidate ideas scored on the four
indicator groups with documented weights, the indicators the warehouse can measure taken
from it -- target customer scale and degree of need from the key moments and the
dissatisfied pool the idea addresses, the expected satisfaction lift from comparable care
activities -- and every score saying whether it was measured or judged.

Read off the shared closed loop (three dates at 30,000 subscribers through the real
pipeline); the measured indicators are recounted from the marts they come from."""

from __future__ import annotations

import csv

import duckdb
import pytest

from tests.support import PROJECT

pytestmark = pytest.mark.slow

JUDGED = (
    "cost",
    "foreign_practice",
    "service_leadership",
    "corporate_image",
    "brand_value",
    "service_characteristics",
    "platform",
    "business_management",
    "customer_service",
)
MEASURABLE = {
    "target_scale": "judged_target_scale",
    "degree_of_need": "judged_degree_of_need",
    "satisfaction_lift": "judged_satisfaction_lift",
}


def seed(name):
    with (PROJECT / "seeds" / f"{name}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def loop(closed_loop):
    cfg, _ = closed_loop
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    yield con
    con.close()


def indicators(con) -> dict[tuple[str, str], dict]:
    cur = con.execute("select * from marts.fct_service_idea_indicators")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return {(r["idea_code"], r["indicator_code"]): r for r in rows}


def test_the_weights_are_documented_and_sum_to_one():
    rows = seed("tie_indicators")
    assert abs(sum(float(r["weight"]) for r in rows) - 1.0) < 1e-9
    assert {r["indicator_group"] for r in rows} == {"economy", "competition", "service", "support"}
    assert {r["indicator_code"] for r in rows if r["measurable"] == "true"} == set(MEASURABLE)
    assert {r["indicator_code"] for r in rows if r["measurable"] == "false"} == set(JUDGED)
    assert all(r["description"] for r in rows)


def test_every_idea_has_every_indicator_and_judged_scores_are_the_seeds(loop):
    got = indicators(loop)
    ideas = seed("service_ideas")
    assert len(got) == len(ideas) * (len(JUDGED) + len(MEASURABLE))
    for idea in ideas:
        for indicator in JUDGED:
            r = got[(idea["idea_code"], indicator)]
            assert r["score_source"] == "judged" and r["score"] == float(idea[indicator])
        for indicator, judged in MEASURABLE.items():
            r = got[(idea["idea_code"], indicator)]
            assert 1 <= r["score"] <= 5
            if r["score_source"] == "judged":
                assert r["score"] == float(idea[judged]) and r["measured_value"] is None
            else:
                assert r["evidence"] and r["measured_value"] is not None
        if idea["evidence_type"] == "none":  # nothing in the warehouse to measure it by
            assert got[(idea["idea_code"], "target_scale")]["score_source"] == "judged"
            assert got[(idea["idea_code"], "degree_of_need")]["score_source"] == "judged"


def test_measured_scale_and_need_reconcile_with_the_key_moments_and_the_pool(loop):
    got = indicators(loop)
    (as_of,) = loop.execute(
        "select max(business_date) from marts.fct_dissatisfied_pool_daily"
    ).fetchone()
    pool = {
        c
        for (c,) in loop.execute(
            "select customer_id from marts.fct_dissatisfied_pool_daily where business_date = ?",
            [as_of],
        ).fetchall()
    }
    (customers,) = loop.execute(
        "select count(*) from staging.stg_crm__customers where business_date = ?", [as_of]
    ).fetchone()
    base = len(pool) / customers
    scales = {}
    for idea in seed("service_ideas"):
        if idea["evidence_type"] == "key_moment":
            addressed = {
                c
                for (c,) in loop.execute(
                    "select distinct customer_id from marts.fct_key_moment_warnings"
                    " where rule_code = ? and business_date > ? - 30 and business_date <= ?",
                    [idea["evidence_code"], as_of, as_of],
                ).fetchall()
            }
        elif idea["evidence_type"] == "dissatisfied_pool":
            addressed = {
                c
                for (c,) in loop.execute(
                    "select customer_id from marts.fct_dissatisfied_pool_daily"
                    " where business_date = ? and pool_type = ?",
                    [as_of, idea["evidence_code"]],
                ).fetchall()
            }
        else:
            continue
        assert addressed, idea["idea_code"]  # the loop has customers for every idea
        scale = got[(idea["idea_code"], "target_scale")]
        assert scale["score_source"] == "measured"
        assert scale["measured_value"] == len(addressed)
        scales[idea["idea_code"]] = (len(addressed), scale["score"])
        need = got[(idea["idea_code"], "degree_of_need")]
        ratio = len(addressed & pool) / len(addressed) / base
        assert need["measured_value"] == pytest.approx(ratio)
        assert need["score"] == pytest.approx(1 + 4 * min(ratio, 2) / 2, abs=1e-3)
    largest = max(n for n, _ in scales.values())
    for n, score in scales.values():
        assert score == pytest.approx(1 + 4 * n / largest, abs=1e-3)


def test_the_lift_is_measured_only_from_comparable_care_activities(loop):
    got = indicators(loop)
    lifts = dict(
        loop.execute(
            "select segment, avg(control_adjusted_lift) from marts.rpt_care_activity_results"
            " where control_adjusted_lift is not null group by segment"
        ).fetchall()
    )
    for idea in seed("service_ideas"):
        r = got[(idea["idea_code"], "satisfaction_lift")]
        lift = lifts.get(idea["comparable_segment"])
        if lift is None:
            assert r["score_source"] == "judged"
        else:
            assert r["score_source"] == "measured"
            assert r["measured_value"] == pytest.approx(lift)
            assert r["score"] == pytest.approx(min(5, max(1, 1 + 4 * lift / 10)), abs=1e-3)


def test_the_ranking_is_the_weighted_total_of_the_indicators(loop):
    got = indicators(loop)
    cur = loop.execute("select * from marts.rpt_service_idea_ranking order by idea_rank")
    names = [d[0] for d in cur.description]
    ranking = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    assert {r["idea_code"] for r in ranking} == {i["idea_code"] for i in seed("service_ideas")}
    for r in ranking:
        mine = [v for (idea, _), v in got.items() if idea == r["idea_code"]]
        total = 100 * sum(v["weight"] * (v["score"] - 1) / 4 for v in mine)
        assert r["total_score"] == pytest.approx(total, abs=0.01)
        measured = sum(v["weight"] for v in mine if v["score_source"] == "measured")
        assert r["measured_weight_share"] == pytest.approx(measured, abs=1e-3)
        assert 0 <= r["total_score"] <= 100
    totals = [r["total_score"] for r in ranking]
    assert totals == sorted(totals, reverse=True)
    assert ranking[0]["idea_rank"] == 1
