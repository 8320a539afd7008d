import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segstudio.core.formats import rle

masks = st.tuples(st.integers(1, 20), st.integers(1, 20)).flatmap(
    lambda shape: arrays(np.bool_, shape)
)


@settings(max_examples=200, deadline=None)
@given(masks)
def test_encode_decode_round_trip(mask):
    encoded = rle.encode(mask)
    assert encoded["size"] == list(mask.shape)
    np.testing.assert_array_equal(rle.decode(encoded), mask)
    runs = rle.run_lengths(mask)
    assert sum(runs) == mask.size
    np.testing.assert_array_equal(rle.decode({"size": list(mask.shape), "counts": runs}), mask)
    assert rle.string_to_counts(encoded["counts"]) == runs


def test_known_pycocotools_strings():
    # Strings pycocotools writes for a 25x25 mask with a 5x5 square set.
    for start, expected in [(0, "05d00000000d?"), (5, "R45d00000000b;"), (20, "X`05d00000000")]:
        mask = np.zeros((25, 25), bool)
        mask[start:start + 5, start:start + 5] = True
        assert rle.encode(mask)["counts"] == expected
        np.testing.assert_array_equal(rle.decode({"size": [25, 25], "counts": expected}), mask)


def test_counts_are_column_major_starting_with_zeros():
    mask = np.array([[1, 0, 0], [1, 1, 0]], bool)  # read down columns: 1 1 | 0 1 | 0 0
    assert rle.run_lengths(mask) == [0, 2, 1, 1, 2]
    assert rle.run_lengths(~mask) == [2, 1, 1, 2]


def test_bad_rle_is_a_value_error():
    with pytest.raises(ValueError, match="add up to 5"):
        rle.decode({"size": [2, 3], "counts": [2, 3]})
    with pytest.raises(ValueError, match="cannot appear"):
        rle.decode({"size": [2, 3], "counts": "0 1"})
    with pytest.raises(ValueError, match="ends in the middle"):
        rle.string_to_counts("o")  # continuation bit set, nothing follows
