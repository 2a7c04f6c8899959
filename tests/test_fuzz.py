"""The ingest under a few hundred mutated deliveries (``make fuzz`` runs a thousand and
more); see ``tests/harness/fuzzing.py`` for what each case must satisfy."""

from __future__ import annotations

import pytest

from kairos.ingest import scan
from tests.harness import fuzzing


def test_mutated_deliveries_load_whole_or_are_refused_with_a_reason(tmp_path):
    tally = fuzzing.fuzz(cases=400, seed=20261124, home=tmp_path)
    assert sum(v for k, v in tally.items() if not k.startswith(" ")) == 400
    # the mutations reach every outcome: not a run of trivial refusals
    for outcome in ("loaded", "replaced", "refused", "held", "not delivered"):
        assert tally[outcome] > 0, tally


def test_the_fuzzer_catches_a_refusal_that_quotes_the_file(tmp_path, monkeypatch):
    """The harness can fail: with the old header message back, it finds the leak."""

    def quoting(extract, data_path, header):
        if header.removesuffix(b"\r") != extract.header_line().encode():
            raise scan.ControlCheckError(f"header is {header[:200]!r}")

    monkeypatch.setattr(scan, "_check_header", quoting)
    with pytest.raises(AssertionError, match="S3CR3T"):
        fuzzing.fuzz(cases=400, seed=20261124, home=tmp_path)
