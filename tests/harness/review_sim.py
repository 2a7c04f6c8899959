"""``make review-sim``: how often the rule review is wrong, measured by simulation.

The review (``rpt_key_moment_rule_review``) says keep, tune, stop or wait for each of the
key-moment rules, every week, from the same counts: targets and holdouts, goals met,
complaints and opt-outs. This harness runs the review's own decision logic --
:func:`decide`, a port of the model's SQL that ``tests/test_rule_effects.py`` holds equal
to the mart on the closed loop's data -- over simulated reviews and counts how often it
is wrong.

A simulated review is twelve weekly looks at one growing look-back: each week every rule
adds its members (split into targets and holdouts by its ``holdout_pct``), and each
member meets the goal, complains or opts out at the world's rates. Three worlds:

* ``all_zero``: no rule moves its goal, none is harmful (the contacts' own opt-outs and
  complaints stay, below the tolerance);
* ``shipped``: the generator's planted effects (``kairos_sample.planting``): ten rules
  with a goal effect, KM12 harmful on complaints;
* ``one_harmful``: no goal effects; one rule (KM06, a service notice) raises complaints.

at two sizes: the closed loop's 30,000 subscribers and a million. Per world and size it
prints the family-wise false-verdict rate (reviews with *any* false keep or stop at
*any* of the twelve looks), the false-discovery rate at the last look, the rate of
``tune`` said of a rule whose true effect is ``rule_review_min_effect`` or more, and the
power per rule with an effect (its right verdict at looks 4, 8 and 12).

    python -m tests.harness.review_sim                 # make review-sim (1,000 reviews)
    python -m tests.harness.review_sim --reviews 5000 --seed 3

The member volumes and base rates are the closed loop's (``PROFILE``: the second list date
of the loop in ``tests/conftest.py``, 30,000 subscribers, seed 21 -- the first date is the
go-live burst), scaled linearly with the subscribers.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

# The review's settings (dbt_project.yml vars); the port reads them from there in tests.
ALPHA, TAU, TOLERANCE, MIN_EFFECT, MIN_CONTACTS, MIN_HOLDOUTS = 0.05, 0.05, 0.02, 0.03, 100, 30
FLAGS = ("harmful", "negative", "positive", "insufficient", "no_effect", "underpowered")
VERDICT = {
    "harmful": "stop",
    "negative": "stop",
    "positive": "keep",
    "insufficient": "wait",
    "no_effect": "tune",
    "underpowered": "wait",
}
HARMFUL, NEGATIVE, POSITIVE, INSUFFICIENT, NO_EFFECT, UNDERPOWERED = range(6)


def _smoothed(x, n):
    """Agresti-Caffo: one success and one failure added; the rate and its variance."""
    p = (x + 1.0) / (n + 2.0)
    return p, p * (1 - p) / (n + 2.0)


def anytime_p(x_t, n_t, x_h, n_h, null=0.0, one_sided=False, tau=TAU):
    """The mixture SPRT's p-value (macros/rule_effects.sql, ``anytime_p``)."""
    pt, vt = _smoothed(x_t, n_t)
    ph, vh = _smoothed(x_h, n_h)
    v, tau2 = vt + vh, tau * tau
    d = pt - ph - null
    log_l = 0.5 * np.log(v / (v + tau2)) + tau2 * d * d / (2 * v * (v + tau2))
    p = np.exp(-np.maximum(0.0, log_l))
    return np.where(d <= 0, 1.0, p) if one_sided else p


def anytime_interval(x_t, n_t, x_h, n_h, level, tau=TAU):
    """The goal uplift's anytime-valid interval at ``level`` (``anytime_interval``)."""
    pt, vt = _smoothed(x_t, n_t)
    ph, vh = _smoothed(x_h, n_h)
    v, tau2 = vt + vh, tau * tau
    half = np.sqrt(v * (v + tau2) / tau2 * (2 * np.log(1 / level) + np.log((v + tau2) / v)))
    return np.maximum(-1.0, pt - ph - half), np.minimum(1.0, pt - ph + half)


def holm(p: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Holm's adjusted p-values along the last axis; ``present`` marks the tests in the
    family (a rule with no members yet has no row in the review)."""
    m = present.sum(axis=-1, keepdims=True)
    p = np.where(present, p, 2.0)  # absent: sorted after every test of the family
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1)
    rank = np.arange(1, p.shape[-1] + 1)
    factor = np.maximum(m - rank + 1, 1)
    adjusted = np.maximum.accumulate(np.minimum(1.0, factor * ranked), axis=-1)
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return np.where(present, out, 1.0)


@dataclass
class Review:
    """What :func:`decide` returns: the flags and the figures behind them."""

    flag: np.ndarray  # index into FLAGS
    goal_p: np.ndarray
    goal_p_adjusted: np.ndarray
    complaint_p_adjusted: np.ndarray
    opt_out_p_adjusted: np.ndarray
    cs_low: np.ndarray
    cs_high: np.ndarray


def decide(c: dict[str, np.ndarray], settings: dict | None = None) -> Review:
    """The review's decision for every rule (last axis) of every review (leading axes),
    from its counts: ``targets``, ``holdouts``, ``contacts_spent``, ``targets_goal_met``,
    ``holdouts_goal_met``, ``targets_complained``, ``holdouts_complained``,
    ``targets_opted_out``, ``holdouts_opted_out``. A rule with no members is absent."""
    s = {
        "alpha": ALPHA,
        "tau": TAU,
        "tolerance": TOLERANCE,
        "min_effect": MIN_EFFECT,
        "min_contacts": MIN_CONTACTS,
        "min_holdouts": MIN_HOLDOUTS,
        **(settings or {}),
    }
    t, h = c["targets"].astype(float), c["holdouts"].astype(float)
    present = (t + h) > 0
    tau = s["tau"]
    goal_p = anytime_p(c["targets_goal_met"], t, c["holdouts_goal_met"], h, tau=tau)
    complaint_p = anytime_p(
        c["targets_complained"], t, c["holdouts_complained"], h, s["tolerance"], True, tau
    )
    opt_out_p = anytime_p(
        c["targets_opted_out"], t, c["holdouts_opted_out"], h, s["tolerance"], True, tau
    )
    n = t.shape[-1]
    adjusted = holm(
        np.concatenate([goal_p, complaint_p, opt_out_p], axis=-1),
        np.concatenate([present] * 3, axis=-1),
    )
    goal_adj, complaint_adj, opt_out_adj = (adjusted[..., i * n : (i + 1) * n] for i in range(3))
    rules = present.sum(axis=-1, keepdims=True)
    low, high = anytime_interval(
        c["targets_goal_met"], t, c["holdouts_goal_met"], h, s["alpha"] / np.maximum(rules, 1), tau
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        uplift = np.where(h > 0, c["targets_goal_met"] / t - c["holdouts_goal_met"] / h, np.nan)
    alpha = s["alpha"]
    flag = np.select(
        [
            (complaint_adj <= alpha) | (opt_out_adj <= alpha),
            (goal_adj <= alpha) & (uplift < 0),
            (goal_adj <= alpha) & (uplift > 0),
            (c["contacts_spent"] < s["min_contacts"]) | (h < s["min_holdouts"]),
            (low > -s["min_effect"]) & (high < s["min_effect"]),
        ],
        [HARMFUL, NEGATIVE, POSITIVE, INSUFFICIENT, NO_EFFECT],
        UNDERPOWERED,
    )
    return Review(flag, goal_p, goal_adj, complaint_adj, opt_out_adj, low, high)


def decide_uncorrected(c: dict[str, np.ndarray]) -> np.ndarray:
    """The review before issue 34, for comparison: each rule's 95% interval on its own
    (Agresti-Caffo), every look, no correction; harmful when the complaint or opt-out
    interval lies above the tolerance. Returns the flags."""
    t, h = c["targets"].astype(float), c["holdouts"].astype(float)

    def interval(x_t, x_h):
        pt, vt = _smoothed(x_t, t)
        ph, vh = _smoothed(x_h, h)
        half = 1.96 * np.sqrt(vt + vh)
        return pt - ph - half, pt - ph + half

    g_low, g_high = interval(c["targets_goal_met"], c["holdouts_goal_met"])
    c_low, _ = interval(c["targets_complained"], c["holdouts_complained"])
    o_low, _ = interval(c["targets_opted_out"], c["holdouts_opted_out"])
    return np.select(
        [
            (c_low > TOLERANCE) | (o_low > TOLERANCE),
            g_high < 0,
            g_low > 0,
            (g_low > -MIN_EFFECT) & (g_high < MIN_EFFECT),
        ],
        [HARMFUL, NEGATIVE, POSITIVE, NO_EFFECT],
        UNDERPOWERED,
    )


# --- the worlds ------------------------------------------------------------------------
# Per rule, measured on the closed loop: members a day per 10,000 subscribers, holdout %,
# share of targets executed and reached, the holdouts' goal rate (smoothed: a rate the
# loop saw as 0 of a few dozen is taken as 0.5%).
PROFILE = {
    "KM01_DATA_QUOTA_RISK": (3.0, 10, 0.95, 0.46, 0.005),
    "KM02_DATA_OVERAGE": (2.0, 10, 0.83, 0.50, 0.005),
    "KM03_EVENING_HEAVY": (7.3, 10, 0.96, 0.47, 0.005),
    "KM04_PLAN_4G_MIGRATION": (0.7, 10, 0.95, 0.46, 0.005),
    "KM05_PLAN_OVERSIZED": (43.7, 10, 0.95, 0.50, 0.005),
    "KM06_LOW_BALANCE": (247.3, 5, 0.97, 0.43, 0.054),
    "KM08_ARREARS_SUSPENDED": (3.3, 5, 1.00, 0.48, 0.02),
    "KM09_OLD_DEVICE": (7.0, 10, 0.96, 0.47, 0.005),
    "KM10_NON_4G_DEVICE": (47.3, 10, 0.95, 0.48, 0.005),
    "KM11_BIRTHDAY": (29.7, 5, 0.96, 0.42, 0.999),
    "KM12_CONTRACT_ANNIVERSARY": (34.3, 10, 0.96, 0.46, 0.02),
    "KM15_LOW_SATISFACTION": (0.7, 5, 0.67, 0.33, 0.99),
}
# Shared by every rule: complaints within 30 days (targets: the contact's own 1% of
# reached calls, 0.4% of messages), opt-outs (targets only: 2-3% of the reached).
COMPLAINED = {"target": 0.0015, "holdout": 0.0005}
OPTED_OUT = {"target": 0.0135, "holdout": 0.0}


@dataclass(frozen=True)
class World:
    name: str
    goal_share: dict[str, float]  # of the reached, who meet the goal because of it
    harm_share: dict[str, float]  # of the reached, who complain because of it


def worlds() -> list[World]:
    from kairos_sample.planting import Planting

    shipped = Planting.shipped()
    return [
        World("all_zero", {}, {}),
        World(
            "shipped",
            {rule: share for rule, (_, share) in shipped.goal_effects.items()},
            dict(shipped.harm),
        ),
        World("one_harmful", {}, {"KM06_LOW_BALANCE": 0.10}),
    ]


def truth(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Per rule of PROFILE: the true intent-to-treat goal uplift, and whether the rule
    is truly harmful (complaints or opt-outs up by more than the tolerance)."""
    uplift, harmful = [], []
    for rule, (_, _, _, reached, base) in PROFILE.items():
        uplift.append(world.goal_share.get(rule, 0.0) * reached * (1 - base))
        c_t = COMPLAINED["target"] + world.harm_share.get(rule, 0.0) * reached
        harmful.append(
            c_t - COMPLAINED["holdout"] > TOLERANCE
            or OPTED_OUT["target"] - OPTED_OUT["holdout"] > TOLERANCE
        )
    return np.array(uplift), np.array(harmful)


def simulate(world: World, subscribers: int, reviews: int, looks: int, rng) -> dict:
    """Counts of ``reviews`` simulated reviews at each of ``looks`` weekly looks:
    arrays of shape (reviews, looks, rules), cumulative over the weeks."""
    rules = list(PROFILE)
    shape = (reviews, looks, len(rules))
    per_week = np.array([round(PROFILE[r][0] * subscribers / 10_000 * 7) for r in rules])
    holdout = np.array([PROFILE[r][1] / 100 for r in rules])
    executed = np.array([PROFILE[r][2] for r in rules])
    reached = np.array([PROFILE[r][3] for r in rules])
    base = np.array([PROFILE[r][4] for r in rules])
    share = np.array([world.goal_share.get(r, 0.0) for r in rules])
    harm = np.array([world.harm_share.get(r, 0.0) for r in rules])
    holdouts = rng.binomial(np.broadcast_to(per_week, shape), holdout)
    targets = per_week - holdouts
    weekly = {
        "targets": targets,
        "holdouts": holdouts,
        "contacts_spent": rng.binomial(targets, executed),
        "targets_goal_met": rng.binomial(targets, base + share * reached * (1 - base)),
        "holdouts_goal_met": rng.binomial(holdouts, base),
        "targets_complained": rng.binomial(targets, COMPLAINED["target"] + harm * reached),
        "holdouts_complained": rng.binomial(holdouts, COMPLAINED["holdout"]),
        "targets_opted_out": rng.binomial(targets, OPTED_OUT["target"]),
        "holdouts_opted_out": rng.binomial(holdouts, OPTED_OUT["holdout"]),
    }
    return {k: np.cumsum(v, axis=1) for k, v in weekly.items()}


@dataclass
class Result:
    world: str
    subscribers: int
    reviews: int
    fwer: float  # reviews with any false keep or stop at any look
    fwer_uncorrected: float  # the same, by the review before issue 34
    fwer_last: float  # the same, at the last look only
    fdr: float  # false discoveries / discoveries at the last look, averaged
    false_tune: float  # reviews with a tune said of an effect >= min_effect, any look
    power: dict[str, tuple[float, ...]]  # rule -> right verdict at looks 4, 8, 12

    @staticmethod
    def sampling_error(rate: float, reviews: int) -> float:
        """One standard error of a rate measured on ``reviews`` reviews."""
        return float(np.sqrt(max(rate, 1e-9) * (1 - rate) / reviews))


def run(world: World, subscribers: int, reviews: int, looks: int = 12, seed: int = 0) -> Result:
    rng = np.random.default_rng([seed, subscribers, len(world.name)])
    counts = simulate(world, subscribers, reviews, looks, rng)
    flag = decide(counts).flag
    uplift, harmful = truth(world)

    def false_verdicts(flag):
        false_keep = (flag == POSITIVE) & (uplift <= 0)
        false_stop = ((flag == NEGATIVE) & (uplift >= 0)) | ((flag == HARMFUL) & ~harmful)
        return false_keep | false_stop

    false_verdict = false_verdicts(flag)
    uncorrected = false_verdicts(decide_uncorrected(counts))
    discoveries = np.isin(flag, (POSITIVE, NEGATIVE, HARMFUL))
    last = (slice(None), -1)
    fdr = false_verdict[last].sum(-1) / np.maximum(1, discoveries[last].sum(-1))
    false_tune = (flag == NO_EFFECT) & (np.abs(uplift) >= MIN_EFFECT)
    # the right verdict: stop a harmful rule, keep a helpful one, tune one without effect
    right = np.where(
        harmful, flag == HARMFUL, np.where(uplift > 0, flag == POSITIVE, flag == NO_EFFECT)
    )
    power = {
        rule: tuple(float(right[:, k - 1, i].mean()) for k in (4, 8, 12) if k <= looks)
        for i, rule in enumerate(PROFILE)
    }
    return Result(
        world.name,
        subscribers,
        reviews,
        float(false_verdict.any(axis=(1, 2)).mean()),
        float(uncorrected.any(axis=(1, 2)).mean()),
        float(false_verdict[last].any(axis=-1).mean()),
        float(fdr.mean()),
        float(false_tune.any(axis=(1, 2)).mean()),
        power,
    )


def render(results: list[Result]) -> str:
    lines = [
        f"rule review: {results[0].reviews} simulated reviews per world, 12 weekly looks,"
        f" alpha {ALPHA} (family-wise, every rule and look)",
        "",
        f"{'world':<12} {'subscribers':>11} {'FWER any look':>14} {'± 2 se':>7}"
        f" {'FWER last':>9} {'FDR last':>9} {'false tune':>10} {'uncorrected FWER':>17}",
    ]
    for r in results:
        lines.append(
            f"{r.world:<12} {r.subscribers:>11,} {r.fwer:>14.3f}"
            f" {2 * Result.sampling_error(r.fwer, r.reviews):>7.3f} {r.fwer_last:>9.3f}"
            f" {r.fdr:>9.3f} {r.false_tune:>10.3f} {r.fwer_uncorrected:>17.3f}"
        )
    lines += [
        "",
        "FWER: reviews with any false keep or stop, at any look (last: at look 12 only);"
        " FDR: false / all keep-or-stop verdicts at look 12; false tune: tune said of an"
        f" effect of {MIN_EFFECT} or more; uncorrected: the review before issue 34 (a 95%"
        " interval per rule and look)",
    ]
    for r in results:
        if not r.power:
            continue
        lines += [
            "",
            f"{r.world} at {r.subscribers:,}: the right verdict (stop / keep / tune) at look"
            " 4 / 8 / 12",
        ]
        uplift, harmful = truth(next(w for w in worlds() if w.name == r.world))
        for i, rule in enumerate(PROFILE):
            if rule in r.power:
                what = (
                    "harmful: stop"
                    if harmful[i]
                    else f"{uplift[i]:+.3f}: keep"
                    if uplift[i] > 0
                    else "none: tune"
                )
                figures = " / ".join(f"{p:.2f}" for p in r.power[rule])
                lines.append(f"  {rule:<28} {what:<15} {figures}")
    return "\n".join(lines)


SIZES = (30_000, 1_000_000)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reviews", type=int, default=1000, help="simulated reviews per world")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    results = [
        run(world, size, args.reviews, seed=args.seed) for world in worlds() for size in SIZES
    ]
    print(render(results))
    bound = ALPHA
    worst = max(r.fwer - 2 * Result.sampling_error(r.fwer, r.reviews) for r in results)
    print(f"\nfamily-wise false-verdict rate <= {bound} in every world: {worst <= bound}")
    return 0 if worst <= bound else 1


if __name__ == "__main__":
    sys.exit(main())
