"""Random SIGKILLs of ingest, build, snapshot and publish (``make chaos`` runs 100+);
see ``tests/chaos.py`` for the invariants checked after every kill and re-run."""

from __future__ import annotations

import pytest

from tests import chaos

pytestmark = pytest.mark.slow


def test_random_kills_keep_every_invariant(tmp_path):
    # publish and snapshot first, while the build is current; re-deliveries last
    mix = {"publish": 2, "snapshot": 3, "build": 1, "ingest": 14}
    tally, _ = chaos.chaos(cases=20, seed=20261124, home=tmp_path, mix=mix)
    assert sum(tally.values()) == 20
    # most kills land while the step runs (a kill after the end proves little)
    assert sum(n for (_, what), n in tally.items() if what == "killed") >= 12, tally
