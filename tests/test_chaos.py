"""Random SIGKILLs of ingest, build, snapshot and publish, alone and beside another
Kairos process (``make chaos`` runs 100 of each); see ``tests/harness/chaos.py`` for the
invariants checked after every kill and re-run."""

from __future__ import annotations

import pytest

from tests.harness import chaos

pytestmark = pytest.mark.slow


def test_random_kills_alone_and_beside_another_process_keep_every_invariant(tmp_path):
    # publish and snapshot first, while the build is current; re-deliveries last
    mix = {"publish": 2, "snapshot": 2, "build": 1, "ingest": 5}
    # the pairs whose steps take seconds; make chaos draws builds into pairs too
    pairs = (
        ("ingest", "ingest"),
        ("snapshot", "publish"),
        ("publish", "publish"),
        ("ingest", "publish"),
        ("snapshot", "snapshot"),
    )
    tally, _ = chaos.chaos(cases=10, seed=20261124, home=tmp_path, mix=mix, pairs=pairs)
    singles = {k: n for k, n in tally.items() if " + " not in k[0]}
    assert sum(singles.values()) == 10
    assert sum(tally.values()) == 10 + len(pairs)
    # most kills land while the step runs (a kill after the end proves little)
    assert sum(n for (_, what), n in singles.items() if what == "killed") >= 6, tally
    assert sum(n for (_, what), n in tally.items() if what.startswith("one killed")) >= 2, tally
