"""What the generator plants, in one place: the rules' goal effects and harms and the
brands' KANO classes. The shipped values are ``Planting.shipped()``; a delivery can be
planted otherwise (``kairos generate --plant FILE.json``) to check that the marts follow
the data, not the code. The generator reads the planting in force (:func:`current`) while
it writes, and the ground-truth manifest is written from the same object, so the manifest
always says what was planted -- ``kairos evaluate`` and the tests read the truth from the
manifest, never from this module.

A planting file overrides any of::

    {"kano": {"gotone": {"network": "must_be", ...}, ...},
     "goal_effects": {"KM10_NON_4G_DEVICE": 0.2, "KM01_DATA_QUOTA_RISK": 0, ...},
     "harm": {"KM03_EVENING_HEAVY": 0.15}}

``goal_effects`` and ``harm`` replace the shipped tables whole when given (a rule left
out has no effect); ``kano`` replaces the named brands' indicators.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from kairos_sample import catalogue as cat

# The goal event the generator writes for a rule whose contact moves its goal: an order
# in BOSS (offer_ordered), a top-up or payment (paid), a credit boot (credit_boot_used).
# The other rules' goals need state across days (a hotline call not made, a complaint
# resolved later): the generator cannot move them, so a planting may not either.
GOAL_EVENT = {
    "KM01_DATA_QUOTA_RISK": "order",
    "KM02_DATA_OVERAGE": "order",
    "KM03_EVENING_HEAVY": "order",
    "KM04_PLAN_4G_MIGRATION": "order",
    "KM05_PLAN_OVERSIZED": "order",
    "KM06_LOW_BALANCE": "payment",
    "KM07_PAYMENT_DUE": "payment",
    "KM08_ARREARS_SUSPENDED": "credit_boot",
    "KM09_OLD_DEVICE": "order",
    "KM10_NON_4G_DEVICE": "order",
    "KM12_CONTRACT_ANNIVERSARY": "order",
    "PC01_PLANNED_CALL": "order",
}
# The days after the list date a rule's goal counts over (the seed rule_goals; a test
# holds the two together). A planted goal event comes within it: k days after the
# contact (the day after the list date), k = floor(window x u^2) for u uniform on [0, 1)
# -- most act soon, some late -- so d days after the contact a share
# sqrt(d / window) of the effect has shown (``shown_by``).
GOAL_WINDOW = {
    "KM01_DATA_QUOTA_RISK": 7,
    "KM02_DATA_OVERAGE": 7,
    "KM03_EVENING_HEAVY": 7,
    "KM04_PLAN_4G_MIGRATION": 14,
    "KM05_PLAN_OVERSIZED": 14,
    "KM06_LOW_BALANCE": 3,
    "KM07_PAYMENT_DUE": 3,
    "KM08_ARREARS_SUSPENDED": 3,
    "KM09_OLD_DEVICE": 14,
    "KM10_NON_4G_DEVICE": 14,
    "KM11_BIRTHDAY": 30,
    "KM12_CONTRACT_ANNIVERSARY": 14,
    "KM13_REPEATED_HOTLINE": 7,
    "KM14_UNRESOLVED_COMPLAINT": 7,
    "KM15_LOW_SATISFACTION": 30,
    "PC01_PLANNED_CALL": 14,
}
SPREAD = (
    "a goal event comes k days after the contact (the day after the list date),"
    " k = floor(goal window x u^2), u uniform on [0, 1): within d days of the contact"
    " (d = 1 the contact's own day) a share sqrt(d / goal window) of the effect has shown"
)


def lag_days(rule: str, u: float) -> int:
    """Days after the contact the goal event of ``rule`` comes, for a uniform draw ``u``."""
    return int(GOAL_WINDOW[rule] * u * u)


def shown_by(days_observed: int, window: int) -> float:
    """The share of a planted goal effect shown within ``days_observed`` days of the
    contact (1: the contact's own day), for a goal window of ``window`` days."""
    return min(1.0, (max(days_observed, 0) / window) ** 0.5) if window else 1.0


# Every rule of the seed warning_rules (a test holds the two together): the key-moment
# rules and the pseudo-rule of the phone managers' planned calls.
RULES = (
    "KM01_DATA_QUOTA_RISK",
    "KM02_DATA_OVERAGE",
    "KM03_EVENING_HEAVY",
    "KM04_PLAN_4G_MIGRATION",
    "KM05_PLAN_OVERSIZED",
    "KM06_LOW_BALANCE",
    "KM07_PAYMENT_DUE",
    "KM08_ARREARS_SUSPENDED",
    "KM09_OLD_DEVICE",
    "KM10_NON_4G_DEVICE",
    "KM11_BIRTHDAY",
    "KM12_CONTRACT_ANNIVERSARY",
    "KM13_REPEATED_HOTLINE",
    "KM14_UNRESOLVED_COMPLAINT",
    "KM15_LOW_SATISFACTION",
    "PC01_PLANNED_CALL",
)

# The shipped truth. Per rule, the share of *reached* targets who meet the goal because
# of the contact, on top of what they would have done anyway: KM10 is the planted zero
# (the 4G-device offer moves nobody), and KM11, KM13-KM15 cannot be moved (above).
SHIPPED_GOAL_EFFECTS = {
    "KM01_DATA_QUOTA_RISK": 0.25,
    "KM02_DATA_OVERAGE": 0.20,
    "KM03_EVENING_HEAVY": 0.15,
    "KM04_PLAN_4G_MIGRATION": 0.15,
    "KM05_PLAN_OVERSIZED": 0.10,
    "KM06_LOW_BALANCE": 0.30,
    "KM07_PAYMENT_DUE": 0.35,
    "KM08_ARREARS_SUSPENDED": 0.25,
    "KM09_OLD_DEVICE": 0.10,
    "KM12_CONTRACT_ANNIVERSARY": 0.20,
    "PC01_PLANNED_CALL": 0.10,
}
# The harmful one: a hard-sell contract-renewal contact -- a reached target files a
# complaint (opened the day of the contact) with this probability; its renewals are real.
SHIPPED_HARM = {"KM12_CONTRACT_ANNIVERSARY": 0.20}


class PlantingError(ValueError):
    """A planting file that cannot be planted: says which value and why."""


@dataclass(frozen=True)
class Planting:
    kano: Mapping[str, Mapping[str, str]]  # brand code -> indicator -> KANO class
    goal_effects: Mapping[str, tuple[str, float]]  # rule -> (goal event, share of reached)
    harm: Mapping[str, float]  # rule -> share of reached who complain because of it

    @classmethod
    def shipped(cls) -> Planting:
        return cls(
            kano=_frozen(
                {
                    code: {
                        ind: cat.KANO_CLASSES[c]
                        for ind, c in zip(cat.INDICATORS, cat.KANO[b], strict=True)
                    }
                    for b, code in enumerate(cat.BRAND_CODES)
                }
            ),
            goal_effects=MappingProxyType(
                {r: (GOAL_EVENT[r], s) for r, s in SHIPPED_GOAL_EFFECTS.items()}
            ),
            harm=MappingProxyType(dict(SHIPPED_HARM)),
        )

    @classmethod
    def from_file(cls, path: Path) -> Planting:
        try:
            with Path(path).open(encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, ValueError) as exc:
            raise PlantingError(f"{path}: cannot read a planting ({exc})") from None
        return cls.shipped().replaced(doc)

    @classmethod
    def from_manifest(cls, planted: Mapping) -> Planting:
        """The planting a ground-truth manifest's ``planted`` section states (so the next
        delivery of a data root keeps it); the shipped one where it says nothing."""
        effects = planted.get("task_execution", {}).get("effects", {})
        doc: dict = {}
        if isinstance(planted.get("kano"), dict):
            doc["kano"] = planted["kano"]
        if isinstance(effects.get("goal_event_share_of_reached"), dict):
            doc["goal_effects"] = {
                r: e.get("share", 0) for r, e in effects["goal_event_share_of_reached"].items()
            }
        if isinstance(effects.get("complaint_share_of_reached"), dict):
            doc["harm"] = effects["complaint_share_of_reached"]
        try:
            return cls.shipped().replaced(doc)
        except PlantingError:
            return cls.shipped()

    def replaced(self, doc: object) -> Planting:
        """This planting with the values of ``doc`` (a planting file's content)."""
        if not isinstance(doc, dict) or set(doc) - {"kano", "goal_effects", "harm"}:
            raise PlantingError("a planting has only kano, goal_effects and harm")
        effects = dict(self.goal_effects)
        if "goal_effects" in doc:
            effects = {
                rule: (GOAL_EVENT[rule], float(share))
                for rule, share in _shares(doc["goal_effects"], "goal_effects", GOAL_EVENT)
            }
        harm = dict(self.harm)
        if "harm" in doc:
            harm = {rule: float(share) for rule, share in _shares(doc["harm"], "harm", RULES)}
        return Planting(
            self._kano_with(doc.get("kano", {})), MappingProxyType(effects), MappingProxyType(harm)
        )

    def _kano_with(self, changes: object) -> Mapping:
        kano = {b: dict(v) for b, v in self.kano.items()}
        for brand, classes in _mapping(changes, "kano").items():
            if brand not in kano:
                raise PlantingError(f"kano: unknown brand {brand!r} ({', '.join(kano)})")
            for ind, c in _mapping(classes, f"kano.{brand}").items():
                if ind not in cat.INDICATORS or c not in cat.KANO_CLASSES.values():
                    raise PlantingError(f"kano.{brand}.{ind}: {c!r} is not a class of an indicator")
                kano[brand][ind] = c
        return _frozen(kano)

    def kano_letters(self) -> list[str]:
        """Per brand (catalogue order), one letter per indicator: catalogue.KANO's form."""
        letter = {v: k for k, v in cat.KANO_CLASSES.items()}
        return ["".join(letter[self.kano[b][i]] for i in cat.INDICATORS) for b in cat.BRAND_CODES]

    def zero_rules(self) -> list[str]:
        """The rules with no goal effect planted."""
        return [r for r in RULES if r not in self.goal_effects]


def _frozen(kano: dict) -> Mapping:
    return MappingProxyType({b: MappingProxyType(dict(v)) for b, v in kano.items()})


def _mapping(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise PlantingError(f"{where}: expected an object")
    return value


def _shares(value: object, where: str, rules) -> list[tuple[str, float]]:
    """The (rule, share) pairs of a share table, zero shares left out (no effect)."""
    out = []
    for rule, share in _mapping(value, where).items():
        if rule not in rules:
            raise PlantingError(f"{where}: the generator cannot plant an effect of {rule!r}")
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise PlantingError(f"{where}.{rule}: a share is a number from 0 to 1, not {share!r}")
        if share > 0:
            out.append((rule, share))
    return out


_CURRENT: contextvars.ContextVar[Planting | None] = contextvars.ContextVar(
    "kairos_sample_planting", default=None
)


def current() -> Planting:
    """The planting in force: the one :func:`planted` set, else the shipped one."""
    return _CURRENT.get() or Planting.shipped()


@contextlib.contextmanager
def planted(planting: Planting | None) -> Iterator[Planting]:
    """Generate under ``planting`` (None: the shipped one) for the ``with`` block."""
    token = _CURRENT.set(planting)
    try:
        yield current()
    finally:
        _CURRENT.reset(token)
