"""Generator scenarios: what the care activities of each month look like.

``default``: monthly activities per segment, members picked on a noisy low screening
score (so regression to the mean is planted), 10% control, random participation driven
by each customer's preferences.

``operator-2010``: the operator's 2010 results table (docs/domain.md#dissatisfied-pool)
planted at 1:100 scale -- the five segments' coverage, participation rates and
participants' satisfaction before and after -- on a three-day timeline (screening
interview on day 1 of the month, the activity on day 2, follow-up interview on day 3),
so that the warehouse, computing from raw extracts, must print the published table back.
A 10% control group, surveyed like the members, rises by 40% of the published lift on
its own: the control-adjusted lift is 60% of the naive one.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Timeline:
    """Days of the month: [lo, hi) ranges, as numpy's integers() takes them."""

    screen_days: tuple[int, int] = (1, 3)
    care_start_day: int = 3
    care_end_day: int = 20
    reach_days: tuple[int, int] = (3, 11)
    after_wave: tuple[int, int] = (21, 25)


@dataclass(frozen=True)
class SegmentPlan:
    """One row of the operator's table, at the scenario's scale."""

    covered: int  # customers in the target group
    participation_rate: float
    before: float  # participants' mean satisfaction before
    after: float  # participants' mean satisfaction after
    control_share_of_lift: float = 0.4  # control group's rise, as a share of after - before

    @property
    def control_change(self) -> float:
        return round((self.after - self.before) * self.control_share_of_lift, 2)

    @property
    def true_effect(self) -> float:
        return round(self.after - self.before - self.control_change, 2)


@dataclass(frozen=True)
class Scenario:
    name: str
    timeline: Timeline = field(default_factory=Timeline)
    plans: dict[str, SegmentPlan] | None = None  # by segment, None = default behaviour
    random_surveys: bool = True
    min_subscribers: int = 1

    def manifest(self) -> dict:
        out = {"name": self.name, "timeline": self.timeline.__dict__}
        if self.plans:
            out["operator_table"] = {
                seg: {
                    "customers_covered": p.covered,
                    "participation_rate": p.participation_rate,
                    "participants": round(p.covered * p.participation_rate),
                    "satisfaction_before": p.before,
                    "satisfaction_after": p.after,
                    "control_change": p.control_change,
                    "true_effect": p.true_effect,
                }
                for seg, p in self.plans.items()
            }
        return out


SCENARIOS = {
    "default": Scenario("default"),
    "operator-2010": Scenario(
        "operator-2010",
        timeline=Timeline(
            screen_days=(1, 2),
            care_start_day=2,
            care_end_day=2,
            reach_days=(2, 3),
            after_wave=(3, 4),
        ),
        plans={
            # segment: customers covered (10k / 100), participation, before, after
            "tariff_sensitive": SegmentPlan(3_800, 0.19, 67.2, 75.8),
            "hotline_preferring": SegmentPlan(1_800, 0.33, 71.8, 78.2),
            "mobile_internet_active": SegmentPlan(15_000, 0.24, 69.3, 76.8),
            "web_preferring": SegmentPlan(3_000, 0.11, 70.1, 77.9),
            "explicitly_dissatisfied": SegmentPlan(1_250, 0.16, 67.4, 75.5),
        },
        random_surveys=False,
        min_subscribers=300_000,
    ),
}


def get(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r}; expected one of {', '.join(SCENARIOS)}"
        ) from None
