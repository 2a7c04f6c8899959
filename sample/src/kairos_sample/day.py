"""One business date of one chunk: the lines of every extract, and the planted truth."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from kairos_sample import catalogue as cat
from kairos_sample import execution, planting
from kairos_sample import measurement as ms
from kairos_sample import world as w
from kairos_sample.execution import Tasks
from kairos_sample.scenarios import Scenario

SYS_TEXT = {
    "arrears": "欠费停机",
    "credit_boot": "信用开机",
    "payment_received": "缴费复机",
}
PAYMENT_CHANNELS = ["store", "app", "web", "bank", "recharge_card", "autopay"]
HOTLINE_TOPICS = ["billing", "data", "network", "package", "device", "other"]
COMPLAINT_CATEGORIES = ["billing", "network", "service", "tariff", "data", "other"]
SURVEY_CHANNELS = ["phone", "sms", "app"]
# Product mix of everyday uses: reminders and queries dominate.
USE_PRODUCTS = [
    ("SP_BALANCE_QUERY", 20, "sms"),
    ("SP_ALLOWANCE_QUERY", 15, "app"),
    ("SP_ALLOWANCE_REMIND", 15, "system"),
    ("SP_PAYMENT_REMIND", 8, "system"),
    ("SP_SUSPEND_REMIND", 3, "system"),
    ("SP_REALTIME_BILL", 8, "app"),
    ("SP_EBILL", 6, "web"),
    ("SP_MMS_BILL", 4, "mms"),
    ("SP_REMINDER_DIY", 3, "app"),
    ("SP_CALL_FORWARD", 3, "hotline"),
    ("SP_HEALTH_TIPS", 2, "sms"),
    ("SP_SAT100_MMS", 4, "mms"),
    ("SP_ENT_MAGAZINE", 2, "mms"),
    ("SP_KNOWLEDGE_SMS", 2, "sms"),
    ("SP_STORE_APPT", 2, "app"),
    ("SP_HOSPITAL_BOOKING", 1, "app"),
    ("SP_PARTNER_MERCHANTS", 2, "app"),
]
OFFER_RATE = 0.08  # everyday outbound offers per customer per day
LOW_BALANCE_YUAN = 10.0
OLD_DEVICE_MONTHS = 24  # the key moment is the month the device turns this old
MOMENTS = ["quota_exceed_risk", "low_balance", "suspended_arrears", "old_device", "birthday"]


@dataclass
class DayOutput:
    """Lines per extract name, and the truth gathered on the way."""

    lines: dict[str, list[str]] = field(default_factory=dict)
    key_moments: list[str] = field(default_factory=list)
    opt_outs: list[int] = field(default_factory=list)  # customers opting out on a task today
    # goal events of today's contacts due on a later day: (due ordinal, position, event, rule)
    later: list[tuple[int, int, str, str]] = field(default_factory=list)

    def add(self, extract: str, rows: list[str]) -> None:
        self.lines.setdefault(extract, []).extend(rows)


def _ts(day: dt.date, seconds: np.ndarray) -> list[str]:
    base = f"{day:%Y-%m-%d}"
    return [f"{base} {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in seconds.tolist()]


def _money(values: np.ndarray) -> list[str]:
    return [f"{v:.2f}" for v in values.tolist()]


class Ids:
    """Event identifiers: unique per extract across days and chunks, deterministic."""

    def __init__(self, day: dt.date):
        self.base = (day.toordinal() - w.EPOCH) * 10_000_000_000
        self.next: dict[str, int] = {}

    def take(self, extract: str, n: int) -> np.ndarray:
        start = self.next.get(extract, 0)
        self.next[extract] = start + n
        return np.arange(self.base + start, self.base + start + n, dtype=np.int64)


def months_for(day: dt.date) -> list[tuple[int, int]]:
    """The month of ``day`` and the one before (its activities may still be reported)."""
    prev = day.replace(day=1) - dt.timedelta(days=1)
    return [(prev.year, prev.month), (day.year, day.month)]


def generate_chunk_day(
    seed: int,
    st: w.Static,
    months: dict[tuple[int, int], w.Month],
    day: dt.date,
    ids: Ids,
    scenario: Scenario,
    tasks: Tasks | None = None,
    opted_out: np.ndarray | None = None,
    due: list[tuple[int, str, str]] | None = None,
) -> DayOutput:
    """Every extract's lines for the chunk's subscribers on ``day`` (and CRM's execution
    of ``tasks``, the target lists Kairos published the day before). ``opted_out``: the
    customers who asked, on a task executed before ``day``, not to be marketed to again
    (sorted ids): CRM records it (``is_marketing_opt_out``) and offers them nothing more.
    ``due``: goal events of earlier contacts that come today, (position, event, rule).

    The sections run in a fixed order and share one random stream: the order of the
    draws is the data, so a section must not be moved or skipped."""
    ordinal = day.toordinal()
    mo = months[(day.year, day.month)]
    alive = st.activation <= ordinal
    status = w.status_on(st, mo, day.day, ordinal)
    c = _Chunk(
        seed=seed,
        st=st,
        mo=mo,
        months=months,
        day=day,
        ordinal=ordinal,
        n=st.n,
        r=w.rng(seed, 3, ordinal - w.EPOCH, st.chunk),
        alive=alive,
        pos_alive=np.flatnonzero(alive),
        status=status,
        active=alive & (status == 0),
        sid=st.sub_id,
        cid=st.cust_id,
        d_iso=f"{day:%Y-%m-%d}",
        ids=ids,
        scenario=scenario,
        out=DayOutput(),
        tasks=tasks,
        opted_out=np.isin(st.cust_id, opted_out)
        if opted_out is not None and len(opted_out)
        else np.zeros(st.n, dtype=bool),
        due=list(due or []),
    )
    _boss_lines(c)
    _usage(c)
    prepaid, balance, in_arrears = _balances(c)
    ends = _payments_and_status(c)
    _service_product_events(c, ends)
    _crm(c)
    _task_effects(c)
    age = _bi(c)
    _planted(c, prepaid, balance, in_arrears, age)
    return c.out


@dataclass
class _Chunk:
    """What every section of a chunk's day reads."""

    seed: int
    st: w.Static
    mo: w.Month
    months: dict
    day: dt.date
    ordinal: int
    n: int
    r: np.random.Generator
    alive: np.ndarray
    pos_alive: np.ndarray
    status: np.ndarray
    active: np.ndarray
    sid: np.ndarray
    cid: np.ndarray
    d_iso: str
    ids: Ids
    scenario: Scenario
    out: DayOutput
    tasks: Tasks | None = None
    opted_out: np.ndarray | None = None  # per position: opted out on an earlier task
    due: list = field(default_factory=list)  # earlier contacts' goal events due today
    effects: list = field(default_factory=list)


def _boss_lines(c: _Chunk):
    st, pos_alive, status, sid, cid, out = c.st, c.pos_alive, c.status, c.sid, c.cid, c.out
    # --- BOSS: subscribers, price plans --------------------------------------------
    plan_ids = [p.plan_id for p in cat.PLANS]
    out.add(
        "subscribers",
        [
            f"{sid[i]}|{st.msisdn[i]}|{cid[i]}|{cat.BRANDS[st.brand[i]]}|"
            f"{'postpaid' if st.postpaid[i] else 'prepaid'}|{plan_ids[st.plan[i]]}|"
            f"{w.STATUS[status[i]]}|{dt.date.fromordinal(int(st.activation[i]))}"
            for i in pos_alive.tolist()
        ],
    )
    if st.chunk == 0:
        out.add(
            "price_plans",
            [
                f"{p.plan_id}|{p.name}|{p.generation}|{p.fee:.2f}|{p.data_mb}|{p.voice}|{p.sms}"
                for p in cat.PLANS
            ],
        )


def _usage(c: _Chunk):
    seed, st, mo, day, n, r, active, sid, d_iso, out = (
        c.seed,
        c.st,
        c.mo,
        c.day,
        c.n,
        c.r,
        c.active,
        c.sid,
        c.d_iso,
        c.out,
    )
    # --- BOSS: usage with month-to-date totals ----------------------------------------
    quota = np.array([p.data_mb for p in cat.PLANS], dtype=float)[st.plan]
    mtd = np.zeros(n)
    prev_mtd = np.zeros(n)
    for k in range(1, day.day + 1):
        k_ord = day.replace(day=k).toordinal()
        on = (w.status_on(st, mo, k, k_ord) == 0) & (st.activation <= k_ord)
        used = np.where(on, st.data_rate * w.daily_factors(seed, st.chunk, n, k_ord), 0.0)
        used = np.round(used, 2)
        if k == day.day:
            today = used
            prev_mtd = mtd.copy()
        mtd = mtd + used
    over_mtd = np.round(np.maximum(mtd - quota, 0) * w.OVERAGE_YUAN_PER_MB, 2)
    over_prev = np.round(np.maximum(prev_mtd - quota, 0) * w.OVERAGE_YUAN_PER_MB, 2)
    over_today = np.round(over_mtd - over_prev, 2)
    voice = np.where(active, r.poisson(st.voice_rate), 0)
    sms = np.where(active, r.poisson(1.5, n), 0)
    evening = np.round(today * st.evening_share, 2)
    use_pos = np.flatnonzero(active)
    out.add(
        "daily_usage",
        [
            f"{sid[i]}|{d_iso}|{voice[i]}|{sms[i]}|{today[i]:.2f}|{evening[i]:.2f}|{mtd[i]:.2f}|"
            f"{over_today[i]:.2f}|{over_mtd[i]:.2f}"
            for i in use_pos.tolist()
        ],
    )


def _balances(c: _Chunk):
    st, day, n, r, alive, status, active, sid, d_iso, out = (
        c.st,
        c.day,
        c.n,
        c.r,
        c.alive,
        c.status,
        c.active,
        c.sid,
        c.d_iso,
        c.out,
    )
    # --- BOSS: balances ---------------------------------------------------------------
    prepaid = ~st.postpaid
    low = prepaid & active & (r.random(n) < 0.03)
    balance = np.where(prepaid, st.base_balance * r.uniform(0.8, 1.2, n), r.uniform(0, 50, n))
    balance = np.where(low, r.uniform(0.5, 9.5, n), balance)
    in_arrears = status == 1
    balance = np.where(in_arrears, -r.uniform(1, 40, n), balance)
    arrears = np.where(in_arrears, -balance, 0.0)
    credit = np.where(st.postpaid, 100.0 * st.star, np.where(st.star >= 3, 10.0, 0.0))
    if day.day <= 20:
        due = day.replace(day=20)
    else:
        nxt = day.replace(day=28) + dt.timedelta(days=4)
        due = nxt.replace(day=20)
    not_closed = np.flatnonzero(alive & (status != 3))
    out.add(
        "daily_balances",
        [
            f"{sid[i]}|{d_iso}|{balance[i]:.2f}|{credit[i]:.2f}|{arrears[i]:.2f}|"
            f"{due if st.postpaid[i] else ''}"
            for i in not_closed.tolist()
        ],
    )

    return prepaid, balance, in_arrears


def _payments_and_status(c: _Chunk):
    st, mo, day, n, r, alive, active, sid, d_iso, ids, out = (
        c.st,
        c.mo,
        c.day,
        c.n,
        c.r,
        c.alive,
        c.active,
        c.sid,
        c.d_iso,
        c.ids,
        c.out,
    )
    # --- BOSS: payments and status changes ---------------------------------------------
    prepaid = ~st.postpaid
    topup = prepaid & active & (r.random(n) < 0.04)
    resumes = (mo.arrears_end == day.day) & (mo.arrears_start > 0) & alive
    pays_arrears = resumes & ~mo.credit_boot
    postpaid_pay = st.postpaid & alive & (day.day >= 15) & (day.day <= 20) & (r.random(n) < 0.15)
    pay = np.flatnonzero(topup | pays_arrears | postpaid_pay)
    amounts = np.array([20.0, 30.0, 50.0, 100.0])[r.integers(0, 4, n)]
    amounts = np.where(st.postpaid, np.round(st.arpu, 2), amounts)
    pchan = r.choice(len(PAYMENT_CHANNELS), n, p=[0.15, 0.35, 0.1, 0.1, 0.2, 0.1])
    pchan = np.where(st.postpaid & (r.random(n) < 0.6), 5, pchan)
    psec = r.integers(7 * 3600, 23 * 3600, n)
    pids = ids.take("payments", len(pay))
    pts = _ts(day, psec[pay])
    out.add(
        "payments",
        [
            f"{pid}|{sid[i]}|{t}|{amounts[i]:.2f}|{PAYMENT_CHANNELS[pchan[i]]}"
            for pid, i, t in zip(pids.tolist(), pay.tolist(), pts, strict=True)
        ],
    )
    starts = np.flatnonzero(
        (mo.arrears_start == day.day) & alive & ~mo.closed & ~mo.requested_suspension
    )
    ends = np.flatnonzero(resumes & ~mo.closed & ~mo.requested_suspension)
    events = [(i, "active", "suspended_arrears", "arrears") for i in starts.tolist()]
    events += [
        (
            i,
            "suspended_arrears",
            "active",
            "credit_boot" if mo.credit_boot[i] else "payment_received",
        )
        for i in ends.tolist()
    ]
    sc_ids = ids.take("status_changes", len(events))
    sc_sec = r.integers(0, 86400, max(len(events), 1))
    out.add(
        "status_changes",
        [
            f"{eid}|{sid[i]}|{d_iso} {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}|{a}|{b}|{why}|"
            f"{SYS_TEXT[why]}"
            for eid, (i, a, b, why), s in zip(
                sc_ids.tolist(), events, sc_sec.tolist(), strict=False
            )
        ],
    )

    return ends


def _service_product_events(c: _Chunk, ends: np.ndarray):
    mo, day, n, r, alive, active, sid, ids, out = (
        c.mo,
        c.day,
        c.n,
        c.r,
        c.alive,
        c.active,
        c.sid,
        c.ids,
        c.out,
    )
    # --- BOSS: service-product events --------------------------------------------------
    names = [p for p, _, _ in USE_PRODUCTS]
    weights = np.array([wt for _, wt, _ in USE_PRODUCTS], dtype=float)
    uses = np.flatnonzero(active & (r.random(n) < 0.06))
    product = r.choice(len(names), len(uses), p=weights / weights.sum())
    rows = [
        (i, names[p], "use", USE_PRODUCTS[p][2])
        for i, p in zip(uses.tolist(), product.tolist(), strict=True)
    ]
    codes = cat.service_product_codes()
    orders = np.flatnonzero(active & (r.random(n) < 0.003))
    rows += [
        (i, codes[k], "order", "app")
        for i, k in zip(
            orders.tolist(), r.integers(0, len(codes), len(orders)).tolist(), strict=True
        )
    ]
    cancels = np.flatnonzero(active & (r.random(n) < 0.0008))
    rows += [
        (i, codes[k], "cancel", "hotline")
        for i, k in zip(
            cancels.tolist(), r.integers(0, len(codes), len(cancels)).tolist(), strict=True
        )
    ]
    rows += [(i, "SP_CREDIT_BOOT", "use", "hotline") for i in ends.tolist() if mo.credit_boot[i]]
    part_today = np.flatnonzero((mo.part_day == day.day) & alive)
    rows += [
        (
            i,
            cat.CARE_ACTIVITIES[mo.care[i]].product,
            "order",
            cat.CONTACT_CHANNELS[mo.reach_channel[i]],
        )
        for i in part_today.tolist()
    ]
    ev_ids = ids.take("service_product_events", len(rows))
    ev_ts = _ts(day, r.integers(6 * 3600, 24 * 3600, max(len(rows), 1)))
    out.add(
        "service_product_events",
        [
            f"{eid}|{sid[i]}|{code}|{kind}|{t}|{ch}"
            for eid, (i, code, kind, ch), t in zip(ev_ids.tolist(), rows, ev_ts, strict=False)
        ],
    )


def _crm(c: _Chunk):
    st, months, day, n, r, alive, sid, cid, d_iso, ids, scenario, out = (
        c.st,
        c.months,
        c.day,
        c.n,
        c.r,
        c.alive,
        c.sid,
        c.cid,
        c.d_iso,
        c.ids,
        c.scenario,
        c.out,
    )
    # --- CRM: customers, contacts, complaints, campaigns, members ------------------------
    prim = np.flatnonzero(st.is_primary & alive)
    out.add(
        "customers",
        [
            f"{cid[i]}|{st.name[i]}|{'MF'[st.gender[i]]}|{dt.date.fromordinal(int(st.birth[i]))}|"
            f"{cat.CITIES[st.city[i]][0]}|{st.star[i]}|{int(st.vip[i])}|"
            f"{st.family[i] or ''}|{st.enterprise[i] or ''}|{dt.date.fromordinal(int(st.join[i]))}|"
            f"{int(st.opt_out[i] or c.opted_out[i])}|{st.manager[i] or ''}"
            for i in prim.tolist()
        ],
    )
    if st.chunk == 0:
        out.add(
            "phone_managers",
            [f"{pm}|{city}|{cap}|1" for pm, city, cap in w.phone_managers(st.subscribers)],
        )
    contacts = _contacts(c)
    con_ids = ids.take("contacts", len(contacts))
    out.add(
        "contacts",
        [
            f"{k}|{cid[i]}|{sid[i]}|{ch}|{dr}|{d_iso} {s // 3600:02d}:{s // 60 % 60:02d}:"
            f"{s % 60:02d}|{camp}|{tp}|{oc}|{ref}"
            for k, (i, ch, dr, s, camp, tp, oc, ref) in zip(con_ids.tolist(), contacts, strict=True)
        ],
    )

    p_comp = np.where(st.dissat == 1, 0.04, 0.0001)
    comp = np.flatnonzero(alive & st.is_primary & (r.random(n) < p_comp))
    cat_i = r.integers(0, len(COMPLAINT_CATEGORIES), n)
    sev = r.choice(3, n, p=[0.5, 0.35, 0.15])
    osec = r.integers(8 * 3600, 20 * 3600, n)
    resolved = r.random(n) < 0.7
    rsat = np.where(st.dissat == 1, r.integers(1, 4, n), r.integers(3, 6, n))
    comp_ids = ids.take("complaints", len(comp))
    crows = []
    for k, i in zip(comp_ids.tolist(), comp.tolist(), strict=True):
        opened = int(osec[i])
        closed_at = min(opened + 3600 * 3, 86399)
        res = (
            (f"{d_iso} {closed_at // 3600:02d}:{closed_at // 60 % 60:02d}:{closed_at % 60:02d}")
            if resolved[i]
            else ""
        )
        crows.append(
            f"{k}|{cid[i]}|{sid[i]}|{COMPLAINT_CATEGORIES[cat_i[i]]}|"
            f"{['low', 'medium', 'high'][sev[i]]}|"
            f"{d_iso} {opened // 3600:02d}:{opened // 60 % 60:02d}:{opened % 60:02d}|{res}|"
            f"{rsat[i] if resolved[i] else ''}"
        )
    out.add("complaints", crows)

    if st.chunk == 0:
        out.add("campaigns", _campaign_rows(day, scenario))
    out.add("campaign_members", _member_rows(st, months, day, alive, scenario))


Contact = tuple[int, str, str, int, str, str, str, str]


def _contacts(c: _Chunk) -> list[Contact]:
    """Inbound calls and self-service, campaign offers, everyday offers, care reach, and
    the execution of yesterday's published Kairos tasks."""
    seed, st, mo, day, ordinal, n, r, alive, active = (
        c.seed,
        c.st,
        c.mo,
        c.day,
        c.ordinal,
        c.n,
        c.r,
        c.alive,
        c.active,
    )
    contacts: list[Contact] = []
    # inbound hotline: dissatisfied customers call far more often (potential-dissatisfied signal)
    p_hot = np.where(st.dissat == 2, 0.10, np.where(st.dissat == 1, 0.06, 0.008))
    p_hot = np.where(st.hotline_pref, p_hot * 3, p_hot)
    hot = np.flatnonzero(alive & st.is_primary & (r.random(n) < p_hot))
    topic = r.integers(0, len(HOTLINE_TOPICS), n)
    hsec = r.integers(8 * 3600, 22 * 3600, n)
    for i in hot.tolist():
        contacts.append(
            (
                i,
                "hotline",
                "inbound",
                int(hsec[i]),
                "",
                HOTLINE_TOPICS[topic[i]],
                "completed" if topic[i] % 4 else "transferred",
                "",
            )
        )
    selfserve = np.flatnonzero(alive & st.is_primary & (r.random(n) < 0.01))
    for i in selfserve.tolist():
        ch = "web" if st.web_pref[i] else ("app" if st.mi_active[i] else "store")
        contacts.append((i, ch, "inbound", int(hsec[i]), "", "billing", "completed", ""))
    # marketing contacts: channel and hour vary; acceptance reveals the true preferences
    for m_i, camp in enumerate(cat.MARKETING_CAMPAIGNS):
        cid_m = w.campaign_id(day.year, day.month, camp.slot)
        hit = np.flatnonzero(
            mo.mkt_member[m_i] & ~mo.mkt_control[m_i] & (mo.mkt_day[m_i] == day.day) & alive
        )
        for i in hit.tolist():
            ch = cat.CONTACT_CHANNELS[mo.mkt_channel[m_i, i]]
            ok = bool(mo.mkt_accept[m_i, i])
            if ch in ("sms", "mms", "app", "web"):
                outcome = "opened" if ok else "ignored"
            else:
                outcome = "accepted" if ok else ("declined" if i % 2 else "no_answer")
            sec = int(mo.mkt_hour[m_i, i]) * 3600 + int(hsec[i]) % 3600
            contacts.append((i, ch, "outbound", sec, str(cid_m), "offer", outcome, ""))
    # everyday outbound offers, not tied to a campaign (opt-outs excluded): channel and
    # hour are drawn at random, so over the months the responses reveal each customer's
    # preferred channel and contact window. Own random stream: other extracts unchanged.
    ro = w.rng(seed, 5, ordinal - w.EPOCH, st.chunk)
    o_draw, o_ch, o_hour, o_ok = (
        ro.random(n),
        ro.integers(0, 6, n),
        ro.integers(8, 22, n),
        ro.random(n),
    )
    lo_h = np.array([x[1] for x in cat.WINDOWS])[st.pref_window]
    hi_h = np.array([x[2] for x in cat.WINDOWS])[st.pref_window]
    o_accept = o_ok < (
        0.04 + 0.5 * (o_ch == st.pref_channel) + 0.12 * ((o_hour >= lo_h) & (o_hour <= hi_h))
    )
    offered = active & st.is_primary & ~st.opt_out & ~c.opted_out & (o_draw < OFFER_RATE)
    for i in np.flatnonzero(offered).tolist():
        ch = cat.CONTACT_CHANNELS[o_ch[i]]
        if ch in ("sms", "mms", "app", "web"):
            outcome = "opened" if o_accept[i] else "ignored"
        else:
            outcome = "accepted" if o_accept[i] else ("declined" if i % 2 else "no_answer")
        sec = int(o_hour[i]) * 3600 + int(hsec[i]) % 3600
        contacts.append((i, ch, "outbound", sec, "", "offer", outcome, ""))
    # care activity reach contacts
    reached_today = np.flatnonzero((mo.reach_day == day.day) & (mo.care >= 0) & alive)
    for i in reached_today.tolist():
        cid_c = w.campaign_id(day.year, day.month, cat.CARE_ACTIVITIES[mo.care[i]].slot)
        contacts.append(
            (
                i,
                cat.CONTACT_CHANNELS[mo.reach_channel[i]],
                "outbound",
                int(hsec[i]),
                str(cid_c),
                "care",
                "completed",
                "",
            )
        )
    contacts.extend(_executed_tasks(c))
    return contacts


def _executed_tasks(c: _Chunk) -> list[Contact]:
    """CRM's contacts executing yesterday's Kairos tasks; its own random stream, so a day
    without lists changes nothing else. An opt-out is remembered for tomorrow's CRM."""
    st = c.st
    rx = w.rng(c.seed, 7, c.ordinal - w.EPOCH, st.chunk)
    executed, c.effects = execution.execute(c.tasks, c.sid, st.vip, st.star, rx)
    contacts = []
    for i, ch, tp, oc, ref in executed:
        contacts.append((i, ch, "outbound", int(rx.integers(9 * 3600, 20 * 3600)), "", tp, oc, ref))
        if oc == "opted_out":
            c.out.opt_outs.append(int(c.cid[i]))
    return contacts


def _task_effects(c: _Chunk) -> None:
    """What reached targets did because of Kairos tasks (the planted rule effects,
    ``planting.current()``): an order, a top-up or payment, a credit boot -- within the
    rule's goal window, k days after the contact (``planting.lag_days``): today's share
    now, the rest on the day it is due (``DayOutput.later``, then ``due``) -- or a
    complaint, later the same day. Own random streams and identifiers taken after the
    day's own, so a day without lists changes nothing."""
    if not c.effects and not c.due:
        return
    st, sid, cid, day, ids, out = c.st, c.sid, c.cid, c.day, c.ids, c.out
    lag = w.rng(c.seed, 9, c.ordinal - w.EPOCH, st.chunk)
    now = list(c.due)
    for i, event, rule in c.effects:
        k = 0 if event == "complaint" else planting.lag_days(rule, float(lag.random()))
        if k:
            out.later.append((c.ordinal + k, i, event, rule))
        else:
            now.append((i, event, rule))
    r = w.rng(c.seed, 8, c.ordinal - w.EPOCH, st.chunk)
    rows: dict[str, list[str]] = {}
    for i, event, rule in now:
        t = _ts(day, r.integers(20 * 3600, 23 * 3600, 1))[0]
        if event == "payment":
            amount = round(float(st.arpu[i]), 2) if st.postpaid[i] else 50.0
            rows.setdefault("payments", []).append(f"{{}}|{sid[i]}|{t}|{amount:.2f}|app")
        elif event == "order":
            code = execution.ORDER_PRODUCT[rule]
            rows.setdefault("service_product_events", []).append(
                f"{{}}|{sid[i]}|{code}|order|{t}|outbound_call"
            )
        elif event == "credit_boot":
            rows.setdefault("service_product_events", []).append(
                f"{{}}|{sid[i]}|SP_CREDIT_BOOT|use|{t}|hotline"
            )
        else:  # complaint about the contact itself, still open
            rows.setdefault("complaints", []).append(f"{{}}|{cid[i]}|{sid[i]}|service|medium|{t}||")
    for extract, lines in rows.items():
        new = ids.take(extract, len(lines))
        out.add(extract, [line.format(k) for k, line in zip(new.tolist(), lines, strict=True)])


def _bi(c: _Chunk):
    st, mo, day, ordinal, r, alive, pos_alive, sid, d_iso, ids, scenario, out = (
        c.st,
        c.mo,
        c.day,
        c.ordinal,
        c.r,
        c.alive,
        c.pos_alive,
        c.sid,
        c.d_iso,
        c.ids,
        c.scenario,
        c.out,
    )
    # --- BI: tags and surveys -------------------------------------------------------
    age = np.maximum((ordinal - st.device_bought) // 30, 0)
    band = np.searchsorted(np.array([b for b, _ in cat.ARPU_BANDS]), st.arpu, side="right")
    bands = [label for _, label in cat.ARPU_BANDS]
    tags = []
    for i in pos_alive.tolist():
        s = sid[i]
        tags.append(f"{s}|arpu_band|{bands[min(band[i], 4)]}|{d_iso}")
        tags.append(f"{s}|price_sensitive|{int(st.price_sensitive[i])}|{d_iso}")
        tags.append(f"{s}|hotline_preferring|{int(st.hotline_pref[i])}|{d_iso}")
        tags.append(f"{s}|web_preferring|{int(st.web_pref[i])}|{d_iso}")
        tags.append(f"{s}|mobile_internet_active|{int(st.mi_active[i])}|{d_iso}")
        tags.append(f"{s}|device_age_months|{age[i]}|{d_iso}")
        tags.append(f"{s}|device_4g_capable|{int(age[i] < 40)}|{d_iso}")
    out.add("customer_tags", tags)
    out.add("satisfaction_surveys", _survey_rows(st, mo, day, alive, r, ids, scenario))
    if st.chunk == 0:
        out.add("mystery_shopper_checks", ms.mystery_shopper_rows(c.seed, day, ids))
    out.add("process_audits", ms.process_audit_rows(c.seed, st, day, alive, ids))

    return age


def _planted(c: _Chunk, prepaid, balance, in_arrears, age):
    st, day, alive, active, sid, cid, out = c.st, c.day, c.alive, c.active, c.sid, c.cid, c.out
    # --- planted key moments (ground truth) -----------------------------------------
    bday = np.array([_days_to_birthday(int(b), day) for b in st.birth.tolist()])
    moments = {
        "quota_exceed_risk": active & st.burner,
        "low_balance": prepaid & active & (balance < LOW_BALANCE_YUAN),
        "suspended_arrears": alive & in_arrears,
        "old_device": alive & (age >= OLD_DEVICE_MONTHS) & (age < OLD_DEVICE_MONTHS + 1),
        "birthday": alive & st.is_primary & (bday <= 6),
    }
    for moment, mask in moments.items():
        out.key_moments.extend(f"{sid[i]}|{cid[i]}|{moment}" for i in np.flatnonzero(mask))


def _days_to_birthday(birth_ordinal: int, day: dt.date) -> int:
    b = dt.date.fromordinal(birth_ordinal)
    month, dom = b.month, b.day
    for year in (day.year, day.year + 1):
        d = dom if not (month == 2 and dom == 29 and not calendar.isleap(year)) else 28
        nxt = dt.date(year, month, d)
        if nxt >= day:
            return (nxt - day).days
    return 366


def _campaign_rows(day: dt.date, scenario: Scenario) -> list[str]:
    tl = scenario.timeline
    rows = []
    start_of_month = day.replace(day=1)
    for back in range(3):
        first = start_of_month
        for _ in range(back):
            first = (first - dt.timedelta(days=1)).replace(day=1)
        y, m = first.year, first.month
        for a in cat.CARE_ACTIVITIES:
            start = dt.date(y, m, tl.care_start_day)
            if start > day:
                continue
            rows.append(
                f"{w.campaign_id(y, m, a.slot)}|{a.name}{y}年{m}月|{a.product}|care|{a.channel}|"
                f"{a.promotion_form}|{a.gift_type}|everyday|{a.segment}|{start}|"
                f"{dt.date(y, m, tl.care_end_day)}"
            )
        for c in cat.MARKETING_CAMPAIGNS:
            rows.append(
                f"{w.campaign_id(y, m, c.slot)}|{c.name}{y}年{m}月|{c.product}|marketing|sms|"
                f"{c.promotion_form}|{c.gift_type}|{c.timing_type}|all|{dt.date(y, m, 1)}|"
                f"{dt.date(y, m, 25)}"
            )
    return rows


def _member_rows(
    st: w.Static,
    months: dict[tuple[int, int], w.Month],
    day: dt.date,
    alive: np.ndarray,
    scenario: Scenario,
) -> list[str]:
    tl = scenario.timeline
    rows = []
    for y, m in months_for(day):
        mo = months[(y, m)]
        same_month = (y, m) == (day.year, day.month)
        end = dt.date(y, m, tl.care_end_day)
        if not same_month and (day - end).days > 30:
            continue
        if not same_month or day.day >= tl.care_start_day:
            assigned = f"{dt.date(y, m, tl.care_start_day)} 09:00:00"
            for i in np.flatnonzero((mo.care >= 0) & alive).tolist():
                a = cat.CARE_ACTIVITIES[mo.care[i]]
                reach = _event_time(y, m, int(mo.reach_day[i]), day, 10 + i % 8)
                part = _event_time(y, m, int(mo.part_day[i]), day, 18 + i % 4)
                rows.append(
                    f"{w.campaign_id(y, m, a.slot)}|{st.cust_id[i]}|{st.sub_id[i]}|"
                    f"{'control' if mo.control[i] else 'target'}|{assigned}|{reach}|"
                    f"{cat.CONTACT_CHANNELS[mo.reach_channel[i]] if reach else ''}|{part}"
                )
        assigned = f"{dt.date(y, m, 1)} 08:00:00"
        for k, c in enumerate(cat.MARKETING_CAMPAIGNS):
            if not same_month and (day - dt.date(y, m, 25)).days > 30:
                continue
            for i in np.flatnonzero(mo.mkt_member[k] & alive & st.is_primary).tolist():
                reached = bool(mo.mkt_accept[k, i])
                reach = _event_time(
                    y, m, int(mo.mkt_day[k, i]) if reached else 0, day, int(mo.mkt_hour[k, i])
                )
                part = _event_time(y, m, int(mo.mkt_part_day[k, i]), day, 20)
                rows.append(
                    f"{w.campaign_id(y, m, c.slot)}|{st.cust_id[i]}|{st.sub_id[i]}|"
                    f"{'control' if mo.mkt_control[k, i] else 'target'}|{assigned}|{reach}|"
                    f"{cat.CONTACT_CHANNELS[mo.mkt_channel[k, i]] if reach else ''}|{part}"
                )
    return rows


def _event_time(y: int, m: int, dom: int, day: dt.date, hour: int) -> str:
    """The event's timestamp if it happened on or before ``day``, else empty."""
    if dom <= 0:
        return ""
    when = dt.date(y, m, dom)
    return f"{when} {hour:02d}:30:00" if when <= day else ""


# E[min(d, 0)] for d ~ N(0, 5): -5 / sqrt(2 pi); a KANO shape's mean is taken back out, so
# the class changes how an indicator moves the overall score, not the score's level.
_HALF_NORMAL_MEAN = 5.0 / np.sqrt(2 * np.pi)


def _kano_classes() -> np.ndarray:
    """Per brand and indicator, the KANO class planted (kairos_sample.planting)."""
    kano = planting.current().kano
    return np.array([[kano[b][i] for i in cat.INDICATORS] for b in cat.BRAND_CODES])


def _kano_response(d: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """An indicator's pull on the overall score for its deviation ``d`` from the expected
    score, by KANO class: twice the slope on one side and none on the other (must-be:
    below, attractive: above), or the plain slope (one-dimensional); mean zero, average
    slope one, whatever the class."""
    must, attractive = classes == "must_be", classes == "attractive"
    shaped = np.where(must, 2 * np.minimum(d, 0) + 2 * _HALF_NORMAL_MEAN, d)
    return np.where(attractive, 2 * np.maximum(d, 0) - 2 * _HALF_NORMAL_MEAN, shaped)


def _scores(st: w.Static, pos: np.ndarray, level: np.ndarray, r: np.random.Generator):
    """Overall and per-indicator scores for the interviewed lines at satisfaction ``level``.

    Each group has a planted short board: its indicator sits 12 points lower and weighs
    double in the overall score, so it is the one that pulls satisfaction down. Each
    indicator moves the overall score by its brand's KANO class (the planting in force).
    """
    k = len(cat.INDICATORS)
    board = st.short_board[pos]
    offs = np.zeros((len(pos), k))
    weights = np.ones((len(pos), k))
    has = board >= 0
    offs[np.flatnonzero(has), board[has]] = -12.0
    weights[np.flatnonzero(has), board[has]] = 2.0
    expected = level[:, None] + 4 + offs
    ind = np.clip(np.round(expected + r.normal(0, 5, (len(pos), k))), 0, 100)
    pull = _kano_response(ind - expected, _kano_classes()[st.brand[pos]])
    overall = ((expected + pull) * weights).sum(axis=1) / weights.sum(axis=1)
    overall = np.clip(np.round(overall + r.normal(0, 2, len(pos))), 0, 100)
    return overall.astype(int), ind.astype(int)


def _survey_rows(st, mo, day, alive, r, ids, scenario) -> list[str]:
    n = st.n
    d_iso = f"{day:%Y-%m-%d}"
    groups = []
    random_share = 0.002 if scenario.random_surveys else 0.0
    random_pos = np.flatnonzero(alive & st.is_primary & (r.random(n) < random_share))
    groups.append(
        (random_pos, st.latent_sat[random_pos] + r.normal(0, w.SURVEY_NOISE, len(random_pos)))
    )
    screen_pos = np.flatnonzero(mo.screened & (mo.screen_day == day.day) & alive)
    groups.append((screen_pos, mo.score_before[screen_pos] + 0.0))
    after_pos = np.flatnonzero((mo.care >= 0) & (mo.after_day == day.day) & alive)
    groups.append((after_pos, mo.score_after[after_pos] + 0.0))
    rows = []
    for pos, level in groups:
        if not len(pos):
            continue
        # The overall score must sit on ``level`` itself: the planted short board lowers
        # the indicators, so shift the level up by the board's weighted share.
        board = st.short_board[pos] >= 0
        adj = np.where(board, 12.0 * 2 / 7, 0.0) - 4.0
        overall, ind = _scores(st, pos, level + adj, r)
        chan = r.integers(0, 3, len(pos))
        sids = ids.take("satisfaction_surveys", len(pos))
        for k, i, o, row, c in zip(
            sids.tolist(), pos.tolist(), overall.tolist(), ind.tolist(), chan.tolist(), strict=True
        ):
            channel = SURVEY_CHANNELS[c]
            seconds = ms.survey_duration(k, channel)
            if channel == "phone" and seconds > 900:
                # a tired respondent gives every indicator the overall score (straight-lining)
                row = [o] * len(row)
            rows.append(
                f"{k}|{st.cust_id[i]}|{st.sub_id[i]}|{d_iso}|{channel}|{o}|"
                + "|".join(str(v) for v in row)
                + f"|{'' if seconds is None else seconds}"
            )
    return rows
