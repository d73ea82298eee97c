"""Shared fixtures: where the corpus and the example site are."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("DRYDOCK_SHARED", ROOT.parent / "shared"))
SAMPLES = SHARED / "corpus" / "drydock-samples"


@pytest.fixture(scope="session")
def fullsite_path() -> str:
    return str(SAMPLES / "deckhand_fullsite.yaml")


@pytest.fixture(scope="session")
def generated_text() -> str:
    """A 100-node gen_site.py site."""
    out = subprocess.run(
        ["python3", str(SHARED / "tools" / "gen_site.py"), "--nodes", "100", "--racks", "4", "--seed", "5"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout
