import contextlib
import os
from pathlib import Path

import pytest

# Tests never need a display; set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# CI runs the same property-test examples every time (a red CI must be reproducible);
# elsewhere each run explores new ones.
if os.environ.get("CI"):
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True)
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data sets in ../shared/data (see its README); never copied into the repo."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def isbi_dir(shared_data) -> Path:
    return shared_data / "isbi2012"


@pytest.fixture(scope="session")
def camvid_dir(shared_data) -> Path:
    return shared_data / "camvid-mini"


@contextlib.contextmanager
def torch_threads(count: int):
    """Run with `count` torch intra-op threads, then restore the previous number."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_torch_thread():
    """One thread: on a busy machine, intra-op threads waiting for each other make the
    tiny steps of training tests tens of times slower; on a quiet one it costs little."""
    with torch_threads(1):
        yield
