"""The extract contract is coherent, and everything that depends on it agrees with it."""

from __future__ import annotations

import csv
import re

from kairos import cli, contract
from kairos_sample import catalogue
from kairos_sample.day import USE_PRODUCTS
from tests.support import PROJECT


def test_every_system_delivers_the_extracts_the_issue_names():
    keys = {e.key for e in contract.extracts()}
    for key in [
        "boss.subscribers",
        "boss.price_plans",
        "boss.daily_usage",
        "boss.daily_balances",
        "boss.payments",
        "boss.status_changes",
        "boss.service_product_events",
        "crm.customers",
        "crm.contacts",
        "crm.complaints",
        "crm.campaigns",
        "crm.campaign_members",
        "bi.customer_tags",
        "bi.satisfaction_surveys",
    ]:
        assert key in keys


def test_encodings_are_gbk_for_boss_and_utf8_elsewhere():
    assert {e.encoding for e in contract.for_system("boss")} == {"gbk"}
    assert {e.encoding for e in contract.for_system("crm")} == {"utf-8"}
    assert {e.encoding for e in contract.for_system("bi")} == {"utf-8"}


def test_primary_keys_are_required_columns_and_names_are_snake_case():
    for e in contract.extracts():
        for k in e.primary_key:
            assert not e.column(k).nullable, f"{e.key}.{k} is a key but nullable"
        for c in e.columns:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", c.name), c.name
        if e.business_date_column:
            assert e.column(e.business_date_column).type == "DATE"


def test_pii_columns_are_tagged():
    pii = {(e.key, c.name) for e in contract.extracts() for c in e.columns if c.pii}
    assert ("boss.subscribers", "msisdn") in pii
    assert ("crm.customers", "customer_name") in pii
    assert ("crm.customers", "birth_date") in pii


def test_contract_page_is_up_to_date():
    assert cli.main(["contract-doc", "--check"]) == 0, "run `make contract-doc`"


def test_generator_uses_only_catalogued_service_products():
    codes = set(catalogue.service_product_codes())
    used = {p for p, _, _ in USE_PRODUCTS}
    used |= {a.product for a in catalogue.CARE_ACTIVITIES}
    used |= {c.product for c in catalogue.MARKETING_CAMPAIGNS}
    assert used <= codes, used - codes
    assert "SP_CREDIT_BOOT" in codes and "SP_SAT100_MMS" in codes


def test_the_simulated_catalogue_is_the_seed():
    with (PROJECT / "seeds" / "service_products.csv").open(encoding="utf-8") as fh:
        seed = [row["service_product_code"] for row in csv.DictReader(fh)]
    assert list(catalogue.service_product_codes()) == seed


def test_the_service_standard_seed_is_the_generators():
    with (PROJECT / "seeds" / "service_standard_items.csv").open(encoding="utf-8") as fh:
        items = list(csv.DictReader(fh))
    seed = {
        r["item_code"]: (
            r["method"],
            r["channel"] or r["process"],
            int(r["time_limit_minutes"]) if r["time_limit_minutes"] else None,
        )
        for r in items
    }
    assert seed == {code: (m, where, limit) for code, m, where, limit in catalogue.STANDARD_ITEMS}
    assert {r["indicator"] for r in items} == set(catalogue.INDICATORS)
    assert {r["process"] for r in items if r["process"]} == set(catalogue.AUDITED_PROCESSES)


def test_staging_models_document_exactly_the_contract_columns():
    """Staging is one model per extract; its YAML must follow the contract."""
    import yaml

    for system in contract.systems():
        path = PROJECT / "dbt_project" / "models" / "staging" / system / f"_{system}__models.yml"
        models = {m["name"]: m for m in yaml.safe_load(path.read_text("utf-8"))["models"]}
        for e in contract.for_system(system):
            model = models[f"stg_{system}__{e.name}"]
            documented = [c["name"] for c in model["columns"]]
            assert documented == [*e.column_names, "business_date"], e.key
            assert all(c.get("description") for c in model["columns"])
            pii = {c["name"] for c in model["columns"] if "pii" in c.get("tags", [])}
            assert pii == {c.name for c in e.columns if c.pii}, e.key
