"""CRM executing the target lists Kairos published: the generator's side of the loop.

Kairos publishes the lists of business date L on the morning of L + 1; CRM's phone
managers and SMS platform work them that day, so the contacts extract of business date
L + 1 carries one outbound contact per *executed* task, with ``task_ref`` naming the list
(``YYYYMMDD:list_id``) and the outcome. Holdouts are never contacted. Not every task is
executed (phone managers run out of time, a message fails to send), and how a contact ends
depends on the channel and the customer's tier -- the rates are the planted truth below,
written to the ground-truth manifest so a test can hold the outcome mart to them.

Only published lists are executed: a list the gate withheld, or a date with nothing
published, executes nothing. The tasks are read from the publication's private member
file (list row -> customer and line, 0600, never served), never from the warehouse. A
phone manager works their call sheet: a call on a sheet that is not live (withheld, or
waiting for a list's approval) is not made, whatever its list's status.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from kairos_sample import planting

# Share of a list's tasks executed at all, by channel.
EXECUTED = {"outbound_call": 0.88, "sms": 0.97, "mms": 0.97, "app": 0.95}
# A call is answered / a message read, by tier.
REACHED = {
    "outbound_call": {"vip": 0.85, "four_star_plus": 0.75, "below_four_star": 0.60},
    "sms": {"vip": 0.60, "four_star_plus": 0.55, "below_four_star": 0.45},
}
# Of the reached: took the offer (marketing rules only), complained about the contact,
# asked not to be contacted for marketing again; by channel.
ACCEPTED = {"outbound_call": 0.30, "sms": 0.10}
COMPLAINED = {"outbound_call": 0.010, "sms": 0.004}
OPTED_OUT = {"outbound_call": 0.020, "sms": 0.030}
TOPIC = {
    "data_traffic": "data",
    "package": "package",
    "device": "device",
    "care": "care",
    "planned_call": "offer",
}
# Service notices: reached is the goal, there is no offer to take (the seed warning_rules
# says is_marketing = false for exactly these; a test holds the two together).
SERVICE_RULES = frozenset(
    {
        "KM06_LOW_BALANCE",
        "KM07_PAYMENT_DUE",
        "KM08_ARREARS_SUSPENDED",
        "KM11_BIRTHDAY",
        "KM13_REPEATED_HOTLINE",
        "KM14_UNRESOLVED_COMPLAINT",
        "KM15_LOW_SATISFACTION",
    }
)


# What a reached target does *because of* the contact -- the planted true effect of each
# rule on its goal metric, and the harmful rule's complaints -- is the planting in force
# (kairos_sample.planting: shipped, or a planting file), read while the CRM executes.
# What BOSS records as ordered, per rule (its service product, or the offer's package).
ORDER_PRODUCT = {
    "KM01_DATA_QUOTA_RISK": "SP_ALLOWANCE_REMIND",
    "KM02_DATA_OVERAGE": "SP_REALTIME_BILL",
    "KM03_EVENING_HEAVY": "SP_REMINDER_DIY",
    "KM04_PLAN_4G_MIGRATION": "SP_PREPAY_VIP",
    "KM05_PLAN_OVERSIZED": "SP_ALLOWANCE_QUERY",
    "KM09_OLD_DEVICE": "SP_PREPAY_VIP",
    "KM10_NON_4G_DEVICE": "SP_PREPAY_VIP",
    "KM12_CONTRACT_ANNIVERSARY": "SP_CUSTOMER_MANAGER",
    "PC01_PLANNED_CALL": "SP_PARTNER_MERCHANTS",
}


def planted() -> dict:
    """The execution model and the planted effects in force, for the ground-truth
    manifest."""
    plant = planting.current()
    return {
        "lag_days": 1,
        "executed_share": EXECUTED,
        "reached_share_by_tier": REACHED,
        "of_reached": {"accepted": ACCEPTED, "complained": COMPLAINED, "opted_out": OPTED_OUT},
        "accepted_applies_to": "marketing rules (all but " + ", ".join(sorted(SERVICE_RULES)) + ")",
        "outcomes": {
            "outbound_call": "no_answer | accepted | declined | completed | complained"
            " | opted_out (declined: a marketing offer not taken; completed: a service call)",
            "sms": "ignored | opened | accepted | complained | opted_out",
        },
        "effects": {
            "applies_to": "reached targets, on top of what they would have done anyway;"
            " holdouts are never contacted, so never affected; a complaint comes the day of"
            " the contact, a goal event within the goal window (spread_over_goal_window)",
            "goal_event_share_of_reached": {
                rule: {"event": event, "share": share}
                for rule, (event, share) in sorted(plant.goal_effects.items())
            },
            "complaint_share_of_reached": dict(sorted(plant.harm.items())),
            "spread_over_goal_window": planting.SPREAD,
            "goal_window_days": dict(planting.GOAL_WINDOW),
            "zero_effect_rules": plant.zero_rules(),
        },
    }


def expected_uplift(share: float, reached: float, base_rate: float) -> float:
    """The intent-to-treat uplift a planted effect implies: a share ``share`` of the
    reached targets (``reached`` of all targets) act because of the contact, which moves
    the goal rate only for those who would not have acted anyway (``base_rate``, the
    holdout's rate)."""
    return share * reached * (1.0 - base_rate)


@dataclass(frozen=True)
class Tasks:
    """The published target tasks of one list date, sorted by subscriber."""

    list_date: dt.date
    subscriber_id: np.ndarray  # int64
    list_index: np.ndarray  # into list_ids
    list_ids: tuple[str, ...]
    warning_types: tuple[str, ...]  # per list

    @property
    def size(self) -> int:
        return len(self.subscriber_id)

    def in_range(self, lo: int, hi: int) -> np.ndarray:
        """Positions of the tasks whose subscriber_id lies in [lo, hi]."""
        a = np.searchsorted(self.subscriber_id, lo, side="left")
        b = np.searchsorted(self.subscriber_id, hi, side="right")
        return np.arange(a, b)


def published_tasks(publish_root: Path | None, list_date: dt.date) -> Tasks | None:
    """The target tasks of the lists published for ``list_date`` (withheld lists and
    holdouts excluded), or None when nothing was published for it."""
    if publish_root is None:
        return None
    link = Path(publish_root) / "lists" / list_date.isoformat()
    if not link.exists():
        return None
    version = link.resolve()
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    lists = [x for x in manifest["lists"] if x.get("status", "published") == "published"]
    members = Path(publish_root) / "_private" / version.name / "list_members.parquet"
    if not lists or not members.exists():
        return None
    index = {x["list_id"]: k for k, x in enumerate(lists)}
    table = pq.read_table(
        members, columns=["list_id", "customer_key", "subscriber_id", "contact_group"]
    )
    sub = table.column("subscriber_id").to_numpy()
    list_id = table.column("list_id").to_pylist()
    group = table.column("contact_group").to_pylist()
    not_called = _calls_on_sheets_not_live(version, manifest)
    keys = table.column("customer_key").to_pylist() if not_called else [None] * len(sub)
    keep = np.array(
        [
            g == "target" and x in index and (x, k) not in not_called
            for g, x, k in zip(group, list_id, keys, strict=True)
        ],
        dtype=bool,
    )
    li = np.array([index.get(x, -1) for x in list_id], dtype=np.int32)[keep]
    sub = sub[keep].astype(np.int64)
    order = np.argsort(sub, kind="stable")
    return Tasks(
        list_date,
        sub[order],
        li[order],
        tuple(x["list_id"] for x in lists),
        tuple(x["warning_type"] for x in lists),
    )


def _calls_on_sheets_not_live(version: Path, manifest: dict) -> set[tuple[str, str]]:
    """(list_id, customer_key) of the calls whose manager's call sheet is not live, read
    from the lists' own files (the rows naming that phone manager), not from the sheet."""
    blocked = {
        s["phone_manager_id"] for s in manifest.get("call_sheets", []) if s["status"] != "published"
    }
    if not blocked:
        return set()
    out = set()
    for item in manifest["lists"]:
        name = item.get("files", {}).get("parquet", {}).get("name")
        if name is None or not (version / name).exists():
            continue
        table = pq.read_table(version / name, columns=["customer_key", "phone_manager_id"])
        for r in table.to_pylist():
            if r["phone_manager_id"] in blocked:
                out.add((item["list_id"], r["customer_key"]))
    return out


def _tier(vip: bool, star: int) -> str:
    if vip:
        return "vip"
    return "four_star_plus" if star >= 4 else "below_four_star"


def _outcome(channel: str, marketing: bool, tier: str, u: np.ndarray) -> str | None:
    """How one task ends (None: never executed), from four uniform draws."""
    family = "outbound_call" if channel == "outbound_call" else "sms"
    if u[0] >= EXECUTED.get(channel, 0.95):
        return None
    if u[1] >= REACHED[family][tier]:
        return "no_answer" if family == "outbound_call" else "ignored"
    if u[2] < COMPLAINED[family]:
        return "complained"
    if u[2] < COMPLAINED[family] + OPTED_OUT[family]:
        return "opted_out"
    if marketing and u[3] < ACCEPTED[family]:
        return "accepted"
    if family == "outbound_call":
        return "declined" if marketing else "completed"
    return "opened"


Executed = tuple[int, str, str, str, str]  # position, channel, topic, outcome, task_ref
Effect = tuple[int, str, str]  # position, event (order / payment / credit_boot / complaint), rule


def _effects(i: int, rule: str, outcome: str, u: np.ndarray) -> list[Effect]:
    if outcome in ("no_answer", "ignored"):
        return []
    out = []
    plant = planting.current()
    event, share = plant.goal_effects.get(rule, ("", 0.0))
    if u[0] < share:
        out.append((i, event, rule))
    if u[1] < plant.harm.get(rule, 0.0):
        out.append((i, "complaint", rule))
    return out


def execute(
    tasks: Tasks | None, sub_id: np.ndarray, vip: np.ndarray, star: np.ndarray, r
) -> tuple[list[Executed], list[Effect]]:
    """The contacts executing the chunk's tasks -- (position in the chunk, channel, topic,
    outcome, task_ref) -- and what the reached targets then did because of them (the
    planted effects, written by the day as BOSS and CRM events). ``r`` is the execution's
    own random stream, so a day without lists leaves every other extract byte-identical."""
    if tasks is None or tasks.size == 0:
        return [], []
    positions = tasks.in_range(int(sub_id[0]), int(sub_id[-1]))
    draws = r.random((len(positions), 6))
    ref_day = f"{tasks.list_date:%Y%m%d}"
    out: list[Executed] = []
    effects: list[Effect] = []
    for k, t in enumerate(positions.tolist()):
        i = int(np.searchsorted(sub_id, tasks.subscriber_id[t]))
        if i >= len(sub_id) or sub_id[i] != tasks.subscriber_id[t]:
            continue  # a line that left since the list was made
        list_id = tasks.list_ids[tasks.list_index[t]]
        wtype = tasks.warning_types[tasks.list_index[t]]
        rule, channel = list_id.rsplit("__", 1)
        outcome = _outcome(
            channel, rule not in SERVICE_RULES, _tier(bool(vip[i]), int(star[i])), draws[k]
        )
        if outcome is not None:
            out.append((i, channel, TOPIC.get(wtype, "other"), outcome, f"{ref_day}:{list_id}"))
            effects += _effects(i, rule, outcome, draws[k, 4:])
    return out, effects
