"""Add ``--hash`` options to a pinned requirements file (``make lock``).

Reads ``name==version`` lines, lets pip download exactly those files (no dependencies,
the same indexes and find-links an install uses), and writes each requirement with the
SHA-256 of the file pip chose, so that ``pip install --require-hashes`` installs those
bytes and nothing else.

    python tools/lock_hashes.py pinned.txt > requirements.lock
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def file_project(filename: str) -> str:
    """The project name in a wheel's or an sdist's file name."""
    if filename.endswith(".whl"):
        return canonical(filename.split("-")[0])
    stem = re.sub(r"\.(tar\.gz|zip|tar\.bz2)$", "", filename)
    return canonical(stem.rsplit("-", 1)[0])


def main(pinned: Path) -> int:
    lines = pinned.read_text(encoding="utf-8").splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "-d",
                tmp,
                "-r",
                str(pinned),
            ],
            check=True,
        )
        hashes: dict[str, list[str]] = {}
        for path in sorted(Path(tmp).iterdir()):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            hashes.setdefault(file_project(path.name), []).append(digest)
    out = []
    for line in lines:
        requirement = line.strip()
        if not requirement or requirement.startswith("#"):
            out.append(line)
            continue
        name = canonical(requirement.split("==")[0].split("[")[0])
        if name not in hashes:
            print(f"no file downloaded for {requirement}", file=sys.stderr)
            return 1
        options = " ".join(f"--hash=sha256:{h}" for h in hashes[name])
        out.append(f"{requirement} {options}")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
