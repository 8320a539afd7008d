"""Fixtures shared by the command-line tests."""

import pytest


@pytest.fixture(scope="module")
def isbi_split(isbi_dir, tmp_path_factory):
    """ISBI slices 00-03 to train on and 20-21 held out, as symbolic links (nothing copied)."""
    root = tmp_path_factory.mktemp("isbi")
    for split, numbers in {"train": range(4), "test": (20, 21)}.items():
        for kind in ("images", "masks"):
            (root / split / kind).mkdir(parents=True)
            for n in numbers:
                (root / split / kind / f"{n:02d}.png").symlink_to(isbi_dir / kind / f"{n:02d}.png")
    return root
