"""The simulated operator, computed chunk by chunk with numpy.

Everything is a pure function of (seed, chunk) for the static world, (seed, month,
chunk) for monthly state and (seed, day, chunk) for daily events, so that any day can be
generated alone, in any order, with the same result, and memory depends on the chunk
size only -- never on the number of subscribers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from kairos_sample import catalogue as cat
from kairos_sample.scenarios import Scenario

CHUNK = 20_000
SUB_ID0 = 100_000_000
CUST_ID0 = 500_000_000
EPOCH = dt.date(2000, 1, 1).toordinal()
MSISDN_PREFIXES = [
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "147",
    "150",
    "151",
    "152",
    "157",
    "158",
    "159",
    "178",
    "182",
    "183",
    "184",
    "187",
    "188",
    "198",
]
OVERAGE_YUAN_PER_MB = 0.29
RURAL_CITY_FROM = 15  # cities at this index and after in cat.CITIES are rural

# Phone managers (contract version 3): each city has one manager per MANAGED_PER_MANAGER
# of its expected VIP and four-star-plus customers (about MANAGED_SHARE of all), at least
# one. A manager makes 20-30 calls a day; planted: the first manager of the largest city
# works short hours (1 call a day), the first of the second city is on leave (0), so
# capacity runs out on ordinary days, not only on the first day's burst.
PM_ID0 = 9_000_000
MANAGED_SHARE = 0.09
MANAGED_PER_MANAGER = 150
SHORT_HOURS_CITY, ON_LEAVE_CITY = 0, 1


def rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def n_chunks(subscribers: int) -> int:
    return (subscribers + CHUNK - 1) // CHUNK


@dataclass
class Static:
    """Attributes of the subscribers of one chunk that do not change day to day."""

    chunk: int
    n_chunks: int
    idx: np.ndarray
    sub_id: np.ndarray
    cust_id: np.ndarray
    is_primary: np.ndarray
    prim: np.ndarray  # position (in chunk) of the customer's primary line
    msisdn: list[str]
    brand: np.ndarray
    postpaid: np.ndarray
    plan: np.ndarray
    activation: np.ndarray  # ordinal
    # customer (valid on primary positions; secondaries copy their primary)
    name: list[str]
    gender: np.ndarray
    birth: np.ndarray  # ordinal
    city: np.ndarray
    star: np.ndarray
    vip: np.ndarray
    family: np.ndarray  # 0 = none
    enterprise: np.ndarray  # 0 = none
    join: np.ndarray  # ordinal
    opt_out: np.ndarray
    # behaviour
    arpu: np.ndarray
    price_sensitive: np.ndarray
    hotline_pref: np.ndarray
    web_pref: np.ndarray
    mi_active: np.ndarray
    device_bought: np.ndarray  # ordinal
    data_rate: np.ndarray  # MB/day
    burner: np.ndarray  # planted: will exceed its data quota
    evening_share: np.ndarray
    voice_rate: np.ndarray
    base_balance: np.ndarray
    latent_sat: np.ndarray
    dissat: np.ndarray  # 0 none, 1 explicit, 2 hidden
    segment: np.ndarray  # index into CARE_ACTIVITIES, -1 none
    pref_channel: np.ndarray
    pref_window: np.ndarray
    pref_promo: np.ndarray
    pref_gift: np.ndarray
    pref_timing: np.ndarray
    short_board: np.ndarray  # index into INDICATORS, -1 none
    manager: np.ndarray  # phone_manager_id of a VIP / four-star-plus customer, 0 = none
    subscribers: int = 0  # of the whole world

    @property
    def n(self) -> int:
        return len(self.idx)


def build_static(seed: int, chunk: int, subscribers: int) -> Static:
    lo = chunk * CHUNK
    hi = min(subscribers, lo + CHUNK)
    n = hi - lo
    r = rng(seed, 1, chunk)
    idx = np.arange(lo, hi, dtype=np.int64)
    pos = np.arange(n)
    is_primary = r.random(n) >= 0.12
    is_primary[0] = True
    prim = np.maximum.accumulate(np.where(is_primary, pos, 0))
    cust_id = CUST_ID0 + lo + prim

    def per_customer(values):
        return values[prim]

    brand = per_customer(r.choice(3, size=n, p=cat.BRAND_SHARE))
    postpaid = r.random(n) < np.array(cat.POSTPAID_SHARE)[brand]
    plans_by_brand = [[i for i, p in enumerate(cat.PLANS) if p.brand == b] for b in range(3)]
    plan = np.array(
        [
            plans_by_brand[b][k % len(plans_by_brand[b])]
            for b, k in zip(brand.tolist(), r.integers(0, 12, n).tolist(), strict=True)
        ]
    )
    prefix = idx % len(MSISDN_PREFIXES)
    suffix = ((idx // len(MSISDN_PREFIXES)) * 48271 + seed * 7919 + 12345) % 100_000_000
    msisdn = [
        f"{MSISDN_PREFIXES[p]}{s:08d}"
        for p, s in zip(prefix.tolist(), suffix.tolist(), strict=True)
    ]
    start = dt.date(2003, 1, 1).toordinal()
    end = dt.date(2026, 6, 30).toordinal()
    join = per_customer(r.integers(start, end, n))
    activation = np.maximum(join, join + r.integers(0, 900, n) * (~is_primary))
    activation = np.minimum(activation, end)

    sur = r.integers(0, len(cat.SURNAMES), n)
    g1 = r.integers(0, len(cat.GIVEN_CHARS), n)
    g2 = r.integers(0, len(cat.GIVEN_CHARS), n)
    two = r.random(n) < 0.7
    name = [
        cat.SURNAMES[s] + cat.GIVEN_CHARS[a] + (cat.GIVEN_CHARS[b] if t else "")
        for s, a, b, t in zip(sur.tolist(), g1.tolist(), g2.tolist(), two.tolist(), strict=True)
    ]
    name = [name[p] for p in prim.tolist()]
    gender = per_customer(r.integers(0, 2, n))
    birth = per_customer(
        r.integers(dt.date(1950, 1, 1).toordinal(), dt.date(2007, 12, 31).toordinal(), n)
    )
    weights = np.array([w for _, w in cat.CITIES], dtype=float)
    city = per_customer(r.choice(len(cat.CITIES), size=n, p=weights / weights.sum()))

    arpu = np.array(cat.ARPU_MEDIAN)[brand] * np.exp(r.normal(0, 0.6, n))
    arpu = per_customer(arpu)
    star_base = np.clip(np.round(np.log(arpu / 20.0) * 1.4 + r.normal(0, 0.8, n)), 1, 7)
    star = per_customer(star_base.astype(np.int64))
    vip = per_customer((star >= 5) & (r.random(n) < 0.8) | (arpu > 600))
    family = np.where(per_customer(r.random(n) < 0.2), 700_000 + (lo + prim) // 3, 0)
    enterprise = np.where(
        per_customer(r.random(n) < 0.08), 800_000 + per_customer(r.integers(0, 5000, n)), 0
    )
    opt_out = per_customer(r.random(n) < 0.03)

    price_sensitive = (arpu < 50) & (r.random(n) < 0.7) | (r.random(n) < 0.05)
    hotline_pref = r.random(n) < 0.12
    web_pref = (r.random(n) < 0.12) & ~hotline_pref
    device_bought = r.integers(dt.date(2019, 1, 1).toordinal(), dt.date(2026, 10, 1).toordinal(), n)
    quota = np.array([p.data_mb for p in cat.PLANS])[plan].astype(float)
    burner = r.random(n) < 0.05
    normal_rate = np.minimum(0.35 * quota / 30 * np.exp(r.normal(0, 0.6, n)), 0.8 * quota / 30)
    data_rate = np.where(burner, quota / 30 * r.uniform(1.2, 1.8, n), normal_rate)
    mi_active = data_rate > 60
    evening_share = np.where(r.random(n) < 0.1, r.uniform(0.6, 0.8, n), r.uniform(0.15, 0.4, n))
    voice_rate = np.exp(r.normal(np.log(8), 0.8, n))
    base_balance = np.exp(r.normal(np.log(45), 0.7, n))

    dissat_draw = per_customer(r.random(n))
    dissat = np.where(dissat_draw < 0.018, 1, np.where(dissat_draw < 0.05, 2, 0))
    latent = per_customer(r.normal(76, 6, n)) - 10 * (dissat > 0)
    seg = np.full(n, -1)
    flags = {
        "explicitly_dissatisfied": dissat == 1,
        "tariff_sensitive": price_sensitive,
        "hotline_preferring": hotline_pref,
        "web_preferring": web_pref,
        "mobile_internet_active": mi_active,
    }
    for k in reversed(range(len(cat.CARE_ACTIVITIES))):
        seg = np.where(flags[cat.CARE_ACTIVITIES[k].segment], k, seg)
    seg = np.where(is_primary, seg, -1)  # care activities address the customer once

    pref_channel = per_customer(
        r.choice(len(cat.CONTACT_CHANNELS), size=n, p=cat.CHANNEL_PREF_SHARE)
    )
    pref_window = per_customer(r.integers(0, len(cat.WINDOWS), n))
    pref_promo = per_customer(r.integers(0, len(cat.PROMOTION_FORMS), n))
    pref_gift = per_customer(r.integers(0, len(cat.GIFT_TYPES), n))
    pref_timing = per_customer(r.integers(0, len(cat.TIMING_TYPES), n))
    board = np.full(n, -1)
    reminders = cat.INDICATORS.index("reminders")
    board = np.where((brand == 0) & (arpu >= 500), reminders, board)
    board = np.where((brand == 2) & (arpu < 50), reminders, board)
    board = np.where((brand == 1) & (board < 0), cat.INDICATORS.index("hotline"), board)
    board = np.where(
        (city >= RURAL_CITY_FROM) & (board < 0), cat.INDICATORS.index("network"), board
    )
    # Channel preference follows the group where the operator's own example says so
    # (docs/domain.md#short-boards): high-ARPU GoTone customers want their customer manager to call,
    # low-ARPU Easyown customers want an SMS. Drawn last so earlier draws are unchanged.
    lean = per_customer(r.random(n)) < 0.7
    call, text = cat.CONTACT_CHANNELS.index("outbound_call"), cat.CONTACT_CHANNELS.index("sms")
    pref_channel = np.where((brand == 0) & (arpu >= 500) & lean, call, pref_channel)
    pref_channel = np.where((brand == 2) & (arpu < 50) & lean, text, pref_channel)
    managed = vip | (star >= 4)
    counts = np.array(managers_per_city(subscribers))[city]
    slot = (cust_id * 2_654_435_761 // 7) % counts  # a stable spread, no random draw
    manager = np.where(managed, PM_ID0 + city * 1000 + slot, 0)
    return Static(
        chunk=chunk,
        n_chunks=n_chunks(subscribers),
        idx=idx,
        sub_id=SUB_ID0 + idx,
        cust_id=cust_id,
        is_primary=is_primary,
        prim=prim,
        msisdn=msisdn,
        brand=brand,
        postpaid=postpaid,
        plan=plan,
        activation=activation,
        name=name,
        gender=gender,
        birth=birth,
        city=city,
        star=star,
        vip=vip,
        family=family,
        enterprise=enterprise,
        join=join,
        opt_out=opt_out,
        arpu=arpu,
        price_sensitive=price_sensitive,
        hotline_pref=hotline_pref,
        web_pref=web_pref,
        mi_active=mi_active,
        device_bought=device_bought,
        data_rate=data_rate,
        burner=burner,
        evening_share=evening_share,
        voice_rate=voice_rate,
        base_balance=base_balance,
        latent_sat=latent,
        dissat=dissat,
        segment=seg,
        pref_channel=pref_channel,
        pref_window=pref_window,
        pref_promo=pref_promo,
        pref_gift=pref_gift,
        pref_timing=pref_timing,
        short_board=board,
        manager=manager,
        subscribers=subscribers,
    )


def managers_per_city(subscribers: int) -> list[int]:
    """How many phone managers each city of cat.CITIES has."""
    weights = np.array([w for _, w in cat.CITIES], dtype=float)
    expected = subscribers * MANAGED_SHARE * weights / weights.sum()
    return [max(1, round(x / MANAGED_PER_MANAGER)) for x in expected]


def phone_managers(subscribers: int) -> list[tuple[int, str, int]]:
    """Every phone manager: (phone_manager_id, city, daily_call_capacity)."""
    out = []
    for city, count in enumerate(managers_per_city(subscribers)):
        for slot in range(count):
            pm = PM_ID0 + city * 1000 + slot
            capacity = 20 + pm % 11
            if slot == 0 and city == SHORT_HOURS_CITY:
                capacity = 1
            elif slot == 0 and city == ON_LEAVE_CITY:
                capacity = 0
            out.append((pm, cat.CITIES[city][0], capacity))
    return out


@dataclass
class Month:
    """Monthly state of one chunk: status episodes and service-activity membership."""

    year: int
    month: int
    arrears_start: np.ndarray  # day of month, 0 = no episode
    arrears_end: np.ndarray  # first day active again (may be > days in month)
    credit_boot: np.ndarray
    requested_suspension: np.ndarray
    closed: np.ndarray
    # care activity of the month (-1 none); screening and survey waves
    screened: np.ndarray
    screen_day: np.ndarray
    score_before: np.ndarray  # overall latent level as measured before (noise included)
    care: np.ndarray  # activity index for members, -1 otherwise
    control: np.ndarray
    reach_day: np.ndarray  # 0 = never reached
    reach_channel: np.ndarray
    part_day: np.ndarray  # 0 = did not take part
    after_day: np.ndarray  # 0 = no follow-up interview
    score_after: np.ndarray
    # marketing campaigns: member flag per campaign and their outcome
    mkt_member: np.ndarray  # (3, n) bool
    mkt_control: np.ndarray
    mkt_day: np.ndarray
    mkt_channel: np.ndarray
    mkt_hour: np.ndarray
    mkt_accept: np.ndarray
    mkt_part_day: np.ndarray


SCREEN_THRESHOLD = 78.0
SURVEY_NOISE = 6.0
MONTHLY_DRIFT = 0.5


def month_key(year: int, month: int) -> int:
    return year * 12 + month


def campaign_id(year: int, month: int, slot: int) -> int:
    return (year * 100 + month) * 100 + slot


def build_month(seed: int, st: Static, year: int, month: int, scenario: Scenario) -> Month:
    n = st.n
    tl = scenario.timeline
    r = rng(seed, 2, month_key(year, month), st.chunk)
    prepaid = ~st.postpaid
    episode = prepaid & (r.random(n) < 0.015)
    a_start = np.where(episode, r.integers(1, 29, n), 0)
    a_end = np.where(episode, a_start + r.integers(1, 6, n), 0)
    credit_boot = episode & (r.random(n) < 0.4)
    requested = r.random(n) < 0.004
    closed = r.random(n) < 0.002

    # Care: screen a quarter of each segment with a survey on day 1-2; those scoring under
    # the threshold become members (10% held out as control). Selection on a noisy score
    # is what makes a naive before/after lift overstate the effect (regression to mean).
    screened = (st.segment >= 0) & (r.random(n) < 0.25) & ~closed
    screen_day = r.integers(*tl.screen_days, n)
    score_before = st.latent_sat + r.normal(0, SURVEY_NOISE, n)
    care = np.where(screened & (score_before < SCREEN_THRESHOLD), st.segment, -1)
    member = care >= 0
    control = member & (r.random(n) < 0.10)
    target = member & ~control
    acts = cat.CARE_ACTIVITIES
    reach_rate = np.array([a.reach_rate for a in acts])[np.maximum(care, 0)]
    reached = target & (r.random(n) < reach_rate)
    reach_day = np.where(reached, r.integers(*tl.reach_days, n), 0)
    act_channel = np.array([cat.CONTACT_CHANNELS.index(a.channel) for a in acts])[
        np.maximum(care, 0)
    ]
    reach_channel = np.where(r.random(n) < 0.5, st.pref_channel, act_channel)
    promo = np.array(
        [
            cat.PROMOTION_FORMS.index(a.promotion_form)
            if a.promotion_form in cat.PROMOTION_FORMS
            else -1
            for a in acts
        ]
    )
    gift = np.array([cat.GIFT_TYPES.index(a.gift_type) for a in acts])
    fit = (
        0.7
        + 0.3 * (promo[np.maximum(care, 0)] == st.pref_promo)
        + 0.3 * (gift[np.maximum(care, 0)] == st.pref_gift)
        + 0.2 * (reach_channel == st.pref_channel)
    )
    p_part = np.array([a.participation_rate for a in acts])[np.maximum(care, 0)] * fit / 1.0
    part = reached & (r.random(n) < np.clip(p_part, 0, 0.95))
    part_day = np.where(part, np.minimum(reach_day + r.integers(0, 6, n), tl.care_end_day), 0)
    effect = np.array([a.true_effect for a in acts])[np.maximum(care, 0)]
    after_day = np.where(member & (r.random(n) < 0.75), r.integers(*tl.after_wave, n), 0)
    score_after = st.latent_sat + MONTHLY_DRIFT + effect * part + r.normal(0, SURVEY_NOISE, n)
    if scenario.plans:
        (
            screened,
            screen_day,
            score_before,
            care,
            control,
            reach_day,
            part_day,
            after_day,
            score_after,
        ) = _planted_care(st, r, scenario, closed)

    m = len(cat.MARKETING_CAMPAIGNS)
    mkt_member = (r.random((m, n)) < 0.25) & ~closed
    mkt_control = mkt_member & (r.random((m, n)) < 0.10)
    mkt_day = r.integers(1, 26, (m, n))
    mkt_channel = r.integers(0, len(cat.CONTACT_CHANNELS), (m, n))
    mkt_hour = r.integers(8, 22, (m, n))
    lo = np.array([w[1] for w in cat.WINDOWS])[st.pref_window]
    hi = np.array([w[2] for w in cat.WINDOWS])[st.pref_window]
    in_window = (mkt_hour >= lo) & (mkt_hour <= hi)
    p_accept = 0.04 + 0.5 * (mkt_channel == st.pref_channel) + 0.12 * in_window
    mkt_accept = mkt_member & ~mkt_control & (r.random((m, n)) < p_accept)
    promo_m = np.array(
        [cat.PROMOTION_FORMS.index(c.promotion_form) for c in cat.MARKETING_CAMPAIGNS]
    )[:, None]
    gift_m = np.array([cat.GIFT_TYPES.index(c.gift_type) for c in cat.MARKETING_CAMPAIGNS])[:, None]
    timing_m = np.array([cat.TIMING_TYPES.index(c.timing_type) for c in cat.MARKETING_CAMPAIGNS])[
        :, None
    ]
    p_mpart = (
        0.1
        + 0.3 * (promo_m == st.pref_promo)
        + 0.3 * (gift_m == st.pref_gift)
        + 0.2 * (timing_m == st.pref_timing)
    )
    mkt_part = mkt_accept & (r.random((m, n)) < p_mpart)
    mkt_part_day = np.where(mkt_part, np.minimum(mkt_day + r.integers(0, 3, (m, n)), 28), 0)
    return Month(
        year=year,
        month=month,
        arrears_start=a_start,
        arrears_end=a_end,
        credit_boot=credit_boot,
        requested_suspension=requested,
        closed=closed,
        screened=screened,
        screen_day=screen_day,
        score_before=score_before,
        care=care,
        control=control,
        reach_day=reach_day,
        reach_channel=reach_channel,
        part_day=part_day,
        after_day=after_day,
        score_after=score_after,
        mkt_member=mkt_member,
        mkt_control=mkt_control,
        mkt_day=mkt_day,
        mkt_channel=mkt_channel,
        mkt_hour=mkt_hour,
        mkt_accept=mkt_accept,
        mkt_part_day=mkt_part_day,
    )


def _chunk_share(total: int, st: Static) -> int:
    """This chunk's part of a total split evenly over the chunks (remainder to the first)."""
    base, extra = divmod(total, st.n_chunks)
    return base + (1 if st.chunk < extra else 0)


def _planted_care(st: Static, r: np.random.Generator, scenario: Scenario, closed):
    """Care membership and scores planted exactly from the scenario's table."""
    n = st.n
    tl = scenario.timeline
    care = np.full(n, -1)
    control = np.zeros(n, dtype=bool)
    part = np.zeros(n, dtype=bool)
    reached = np.zeros(n, dtype=bool)
    before = np.zeros(n)
    after = np.zeros(n)
    for k, activity in enumerate(cat.CARE_ACTIVITIES):
        plan = scenario.plans.get(activity.segment)
        if plan is None:
            continue
        n_target = _chunk_share(plan.covered, st)
        n_control = _chunk_share(round(plan.covered * 0.10), st)
        eligible = np.flatnonzero((st.segment == k) & ~closed)
        if len(eligible) < n_target + n_control:
            raise ValueError(
                f"scenario {scenario.name}: chunk {st.chunk} has {len(eligible)} customers in"
                f" segment {activity.segment}, needs {n_target + n_control}; generate more"
                f" subscribers (at least {scenario.min_subscribers:,})"
            )
        chosen = r.permutation(eligible)[: n_target + n_control]
        targets, controls = chosen[:n_target], chosen[n_target:]
        care[chosen] = k
        control[controls] = True
        n_part = int(np.floor(n_target * plan.participation_rate + r.random()))
        participants = targets[:n_part]
        part[participants] = True
        n_reached = max(n_part, round(n_target * 0.8))
        reached[targets[:n_reached]] = True
        # Every member is interviewed before and after. Participants sit on the published
        # before/after; everyone else (non-participants, control) moves by the control change.
        before[chosen] = plan.before
        after[chosen] = plan.before + plan.control_change
        after[participants] = plan.after
    member = care >= 0
    screen_day = np.full(n, tl.screen_days[0])
    reach_day = np.where(reached, tl.reach_days[0], 0)
    part_day = np.where(part, tl.care_end_day, 0)
    after_day = np.where(member, tl.after_wave[0], 0)
    return member, screen_day, before, care, control, reach_day, part_day, after_day, after


STATUS = ["active", "suspended_arrears", "suspended_request", "closed"]


def status_on(st: Static, mo: Month, day: int, ordinal: int) -> np.ndarray:
    """Status index (into STATUS) of every line of the chunk on a day of the month."""
    s = np.zeros(st.n, dtype=np.int64)
    in_arrears = (mo.arrears_start > 0) & (mo.arrears_start <= day) & (day < mo.arrears_end)
    s = np.where(in_arrears, 1, s)
    s = np.where(mo.requested_suspension, 2, s)
    s = np.where(mo.closed, 3, s)
    s = np.where(st.activation > ordinal, 3, s)  # not yet active lines are not delivered
    return s


def daily_factors(seed: int, chunk: int, n: int, ordinal: int) -> np.ndarray:
    """The day's multiplicative noise on data use (mean 1)."""
    return rng(seed, 4, ordinal - EPOCH, chunk).lognormal(-0.1, 0.45, n)
