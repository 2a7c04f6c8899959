"""The extract contract, read from ``extracts.yaml``: one source of truth for the
interface files of BOSS, CRM and BI.

The loader, the generator and the tests all take column lists, types and rules from
here; ``render_markdown`` writes the human page ``docs/extract-contract.md``.
"""

from kairos.contract.schema import (
    CONTRACT_FILE,
    CONTROL_SUFFIX,
    DATA_SUFFIX,
    DELIMITER,
    Column,
    Extract,
    delivery_dir,
    extracts,
    for_system,
    get,
    masked,
    render_markdown,
    system_title,
    systems,
    version,
    versions,
)

__all__ = [
    "CONTRACT_FILE",
    "CONTROL_SUFFIX",
    "DATA_SUFFIX",
    "DELIMITER",
    "Column",
    "Extract",
    "delivery_dir",
    "extracts",
    "for_system",
    "get",
    "masked",
    "render_markdown",
    "system_title",
    "systems",
    "version",
    "versions",
]
