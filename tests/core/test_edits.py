import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from segstudio.core.classes import UNLABELLED
from segstudio.core.edits import (
    MaskDiff,
    brush_dab,
    brush_stroke,
    combine,
    erase_stroke,
    fill_polygon,
    flood_fill,
    paste_labels,
    replace_class,
)

U = UNLABELLED


def blank(height, width):
    return np.full((height, width), U, dtype=np.uint8)


def painted(mask, value):
    return (mask == value).astype(int)


# --- brush -------------------------------------------------------------------


def test_radius_one_dab_at_a_pixel_centre_paints_a_plus():
    mask = blank(5, 5)
    diff = brush_dab(mask, 2.5, 2.5, 1, 0)
    expected = [
        [0, 0, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0],
    ]
    assert painted(mask, 0).tolist() == expected
    assert diff.bbox == (1, 1, 4, 4)
    assert diff.changed_pixels == 5
    assert (diff.old == U).all()


def test_radius_one_and_a_half_dab_paints_a_square():
    mask = blank(5, 5)
    brush_dab(mask, 2.5, 2.5, 1.5, 3)  # diagonals at sqrt(2) <= 1.5, (0, 2) at 2 > 1.5
    assert painted(mask, 3)[1:4, 1:4].all() and painted(mask, 3).sum() == 9


def test_dab_on_a_pixel_corner_paints_the_four_pixels_around_it():
    mask = blank(5, 5)
    brush_dab(mask, 2.0, 2.0, 1, 7)  # centres (1.5|2.5, 1.5|2.5) at 0.707; next ones at 1.58
    assert np.argwhere(mask == 7).tolist() == [[1, 1], [1, 2], [2, 1], [2, 2]]


@pytest.mark.parametrize("radius", [0, 0.25, 0.5])
@pytest.mark.parametrize("x, y", [(2.5, 1.5), (2.0, 1.0), (2.99, 1.99), (2.01, 1.2)])
def test_thin_dab_paints_exactly_the_pixel_under_the_point(radius, x, y):
    mask = blank(4, 5)
    diff = brush_dab(mask, x, y, radius, 1)
    assert np.argwhere(mask == 1).tolist() == [[1, 2]]  # row floor(y), column floor(x)
    assert diff.bbox == (1, 2, 2, 3)


def test_stroke_is_a_thick_line_with_round_caps():
    mask = blank(5, 8)
    brush_stroke(mask, [(1.5, 2.5), (5.5, 2.5)], 1, 4)
    expected = [
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0, 1, 1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 1, 1, 0],
        [0, 1, 1, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0],
    ]
    assert painted(mask, 4).tolist() == expected


def test_thin_stroke_leaves_no_gaps_between_distant_points():
    mask = blank(5, 5)
    brush_stroke(mask, [(0.2, 0.2), (4.9, 4.9)], 0, 3)
    assert painted(mask, 3).tolist() == np.eye(5, dtype=int).tolist()


@pytest.mark.parametrize("radius", [0.3, 3.0, 40.0])
def test_a_long_segment_paints_exactly_the_pixels_within_the_radius_of_it(radius):
    """Painted in pieces (its box would be the whole image), it is the same thick line."""
    mask = blank(700, 600)
    (ax, ay), (bx, by) = (3.2, 5.7), (590.4, 681.1)
    brush_stroke(mask, [(ax, ay), (bx, by)], radius, 2)
    ys, xs = np.mgrid[0:700, 0:600] + 0.5
    dx, dy = bx - ax, by - ay
    t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / (dx * dx + dy * dy), 0, 1)
    within = (xs - ax - t * dx) ** 2 + (ys - ay - t * dy) ** 2 <= radius * radius
    got = painted(mask, 2).astype(bool)
    assert (got[within]).all()
    extra = got & ~within  # only the 1-pixel path line, for a brush thinner than a pixel
    assert not extra.any() if radius >= 1 else extra.sum() < 700
    if radius < 1:  # and that path has no gap: every row from start to end has a pixel
        assert got[6:681].any(axis=1).all()


def test_stroke_through_three_points_paints_both_segments():
    mask = blank(4, 4)
    brush_stroke(mask, [(0.5, 0.5), (3.5, 0.5), (3.5, 3.5)], 0.5, 2)
    expected = [[1, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1]]
    assert painted(mask, 2).tolist() == expected


def test_dab_is_clipped_at_the_border():
    mask = blank(5, 5)
    diff = brush_dab(mask, 0.0, 0.0, 2, 1)  # centres within 2 of the corner: 3 pixels
    assert np.argwhere(mask == 1).tolist() == [[0, 0], [0, 1], [1, 0]]
    assert diff.bbox == (0, 0, 2, 2)


def test_stroke_from_outside_across_the_image_is_clipped():
    mask = blank(5, 5)
    diff = brush_stroke(mask, [(-5.0, 2.5), (10.0, 2.5)], 0, 1)
    assert painted(mask, 1).sum() == 5 and (mask[2] == 1).all()
    assert diff.bbox == (2, 0, 3, 5)


@pytest.mark.parametrize(
    "points", [[(-10.0, -10.0)], [(5.5, 1.0)], [(-3.0, 7.0), (9.0, 7.5)], [(1.0, -2.1)]]
)
def test_brush_entirely_outside_changes_nothing(points):
    mask = blank(5, 5)
    assert brush_stroke(mask, points, 1, 0) is None
    assert (mask == U).all()


def test_only_unlabelled_keeps_existing_labels():
    mask = blank(5, 5)
    mask[2, 2] = 1
    mask[1, 2] = 0
    diff = brush_dab(mask, 2.5, 2.5, 1, 0, only_unlabelled=True)
    assert mask[2, 2] == 1
    assert np.argwhere(mask == 0).tolist() == [[1, 2], [2, 1], [2, 3], [3, 2]]
    assert diff.changed_pixels == 3  # (1, 2) was already 0, (2, 2) is kept


def test_painting_the_same_value_is_no_change():
    mask = np.zeros((5, 5), dtype=np.uint8)
    assert brush_dab(mask, 2.5, 2.5, 2, 0) is None


def test_erase_stroke_sets_unlabelled():
    mask = np.ones((3, 6), dtype=np.uint8)
    diff = erase_stroke(mask, [(0.5, 1.5), (5.5, 1.5)], 0)
    assert (mask[1] == U).all() and (mask[[0, 2]] == 1).all()
    assert (diff.old == 1).all()


def test_bad_label_value_or_radius_is_refused():
    with pytest.raises(ValueError):
        brush_dab(blank(3, 3), 1, 1, 1, 256)
    with pytest.raises(ValueError):
        brush_dab(blank(3, 3), 1, 1, float("nan"), 1)


# --- polygon -----------------------------------------------------------------


def test_polygon_triangle_fills_interior_and_outline():
    mask = blank(6, 6)
    diff = fill_polygon(mask, [(0.5, 0.5), (4.5, 0.5), (0.5, 4.5)], 1)
    rows, cols = np.indices((6, 6))
    assert painted(mask, 1).tolist() == (rows + cols <= 4).astype(int).tolist()
    assert diff.bbox == (0, 0, 5, 5)


def test_polygon_interior_uses_pixel_centres():
    mask = blank(6, 6)
    # Rectangle edges on pixel borders: interior pixels are rows 1..3, cols 1..3; the
    # outline lies on the pixels right/below of the far edges (floor(4.0) = 4).
    fill_polygon(mask, [(1.0, 1.0), (4.0, 1.0), (4.0, 4.0), (1.0, 4.0)], 2)
    assert painted(mask, 2)[1:5, 1:5].all() and painted(mask, 2).sum() == 16


def test_polygon_traced_twice_is_hollow_under_even_odd():
    mask = blank(9, 9)
    square = [(1.5, 1.5), (7.5, 1.5), (7.5, 7.5), (1.5, 7.5)]
    fill_polygon(mask, square * 2, 1)
    ring = np.zeros((9, 9), dtype=int)
    ring[1:8, 1:8] = 1
    ring[2:7, 2:7] = 0
    assert painted(mask, 1).tolist() == ring.tolist()


def test_pentagram_centre_is_a_hole():
    mask = blank(41, 41)
    angles = np.pi / 2 + np.arange(5) * 4 * np.pi / 5  # every second vertex of a pentagon
    star = [(20.5 + 18 * np.cos(a), 20.5 - 18 * np.sin(a)) for a in angles]
    fill_polygon(mask, star, 1)
    assert mask[20, 20] == U  # inside the pentagon in the middle: crossed twice
    assert mask[8, 20] == 1  # inside the top spike


def test_polygon_is_clipped_and_outside_is_none():
    mask = blank(5, 5)
    fill_polygon(mask, [(-3.0, -3.0), (2.0, -3.0), (2.0, 2.0), (-3.0, 2.0)], 1)
    assert painted(mask, 1)[:3, :3].all() and painted(mask, 1).sum() == 9
    assert fill_polygon(mask, [(6.0, 6.0), (9.0, 6.0), (9.0, 9.0)], 1) is None


def test_polygon_only_unlabelled():
    mask = blank(4, 4)
    mask[:, 0] = 0
    fill_polygon(mask, [(0.5, 0.5), (3.5, 0.5), (3.5, 3.5), (0.5, 3.5)], 1, only_unlabelled=True)
    assert (mask[:, 0] == 0).all() and (mask[:, 1:] == 1).all()


# --- flood fill --------------------------------------------------------------


def test_flood_fill_of_a_label_region():
    mask = np.zeros((5, 5), dtype=np.uint8)
    mask[2, :] = 1
    diff = flood_fill(mask, 0.5, 0.5, 2)
    assert (mask[:2] == 2).all() and (mask[2] == 1).all() and (mask[3:] == 0).all()
    assert diff.bbox == (0, 0, 2, 5)


def test_flood_fill_is_four_connected():
    mask = np.zeros((5, 5), dtype=np.uint8)
    np.fill_diagonal(mask, 1)
    flood_fill(mask, 1.5, 0.5, 2)  # above the diagonal
    rows, cols = np.indices((5, 5))
    assert painted(mask, 2).tolist() == (cols > rows).astype(int).tolist()
    flood_fill(mask, 0.5, 0.5, 3)  # the diagonal's pixels touch only at corners
    assert np.argwhere(mask == 3).tolist() == [[0, 0]]


def test_flood_fill_stores_only_the_changed_box():
    mask = np.zeros((50, 60), dtype=np.uint8)
    mask[10:13, 20:24] = 1
    diff = flood_fill(mask, 21.5, 11.5, 2)
    assert diff.bbox == (10, 20, 13, 24) and diff.old.shape == (3, 4)
    assert (diff.old == 1).all() and (diff.new == 2).all()


def test_flood_fill_same_value_or_outside_is_none():
    mask = np.zeros((4, 4), dtype=np.uint8)
    assert flood_fill(mask, 1.5, 1.5, 0) is None
    assert flood_fill(mask, 4.0, 1.0, 1) is None
    assert flood_fill(mask, -0.5, 1.0, 1) is None
    assert (mask == 0).all()


def test_flood_fill_only_unlabelled_of_a_labelled_region_is_none():
    mask = np.zeros((4, 4), dtype=np.uint8)
    assert flood_fill(mask, 1.5, 1.5, 1, only_unlabelled=True) is None
    mask = blank(4, 4)
    assert flood_fill(mask, 1.5, 1.5, 1, only_unlabelled=True).changed_pixels == 16


@pytest.mark.parametrize("tolerance, filled", [(0, 1), (2, 2), (5, 4), (29, 4), (30, 6)])
def test_flood_fill_from_a_gray_image_with_tolerance(tolerance, filled):
    image = np.array([[10, 12, 15, 7, 40, 12]], dtype=np.uint8)
    mask = blank(1, 6)
    flood_fill(mask, 0.5, 0.5, 1, image=image, tolerance=tolerance)
    # 12 is 2 from the seed 10; 15 and 7 are 5 and 3 away; 40 is 30 away; the
    # last 12 is reachable only through 40.
    assert mask[0].tolist() == [1] * filled + [U] * (6 - filled)


def test_flood_fill_from_a_16_bit_image():
    image = np.array([[1000, 1300, 2000, 1250]], dtype=np.uint16)[:, :, None]
    mask = blank(1, 4)
    flood_fill(mask, 0.5, 0.5, 0, image=image, tolerance=300)  # inclusive range
    assert mask[0].tolist() == [0, 0, U, U]


def test_flood_fill_compares_every_channel_with_the_seed():
    rgb = np.zeros((2, 4, 3), dtype=np.uint8)
    rgb[:, :, 0] = 100
    rgb[0, 2, 1] = 50  # one channel too far: stops the region on row 0
    rgb[1, 2, 2] = 50
    mask = blank(2, 4)
    flood_fill(mask, 0.5, 0.5, 1, image=rgb, tolerance=10)
    assert (mask[:, :2] == 1).all() and (mask[:, 2:] == U).all()
    flood_fill(mask, 0.5, 0.5, 2, image=rgb, tolerance=50)
    assert (mask == 2).all()


@pytest.mark.parametrize("dtype", [np.uint16, np.float64, np.int32])
def test_flood_fill_from_a_four_channel_image(dtype):
    image = np.full((3, 3, 4), 500, dtype=dtype)
    image[:, 1, 3] = 900  # a wall in the last channel only
    mask = blank(3, 3)
    flood_fill(mask, 0.5, 2.5, 1, image=image, tolerance=100)
    assert painted(mask, 1).tolist() == [[1, 0, 0]] * 3


def test_flood_fill_from_image_only_unlabelled():
    image = np.zeros((1, 5), dtype=np.uint8)
    mask = np.array([[U, 0, U, U, 3]], dtype=np.uint8)
    diff = flood_fill(mask, 0.5, 0.5, 1, image=image, only_unlabelled=True)
    assert mask[0].tolist() == [1, 0, 1, 1, 3]
    assert diff.changed_pixels == 3


def test_flood_fill_accepts_read_only_and_strided_images():
    image = np.zeros((3, 4, 3), dtype=np.uint8)
    image[:, 0] = 9
    image.setflags(write=False)
    mask = blank(3, 4)
    assert flood_fill(mask, 0.5, 0.5, 1, image=image).changed_pixels == 3
    assert flood_fill(mask, 0.5, 0.5, 2, image=image[:, ::-1]).changed_pixels == 9


def test_flood_fill_image_of_another_size_is_refused():
    with pytest.raises(ValueError):
        flood_fill(blank(3, 3), 0.5, 0.5, 1, image=np.zeros((4, 3), np.uint8))


# --- whole-mask edits --------------------------------------------------------


def test_replace_class():
    mask = np.array([[0, 0, 0], [0, 1, 2], [0, 2, 1]], dtype=np.uint8)
    diff = replace_class(mask, 1, 2)
    assert mask.tolist() == [[0, 0, 0], [0, 2, 2], [0, 2, 2]]
    assert diff.bbox == (1, 1, 3, 3) and diff.changed_pixels == 2
    assert replace_class(mask, 5, 2) is None


def test_paste_labels_all_or_only_unlabelled():
    labels = np.array([[1, 1], [U, 2]], dtype=np.uint8)
    mask = np.array([[U, 0], [U, U]], dtype=np.uint8)
    paste_labels(mask, labels)
    assert mask.tolist() == [[1, 1], [U, 2]]
    mask = np.array([[U, 0], [U, U]], dtype=np.uint8)
    diff = paste_labels(mask, labels, only_unlabelled=True)
    assert mask.tolist() == [[1, 0], [U, 2]]
    assert diff.changed_pixels == 2
    with pytest.raises(ValueError):
        paste_labels(mask, labels[:1])


# --- diffs and combine --------------------------------------------------------


def test_undo_and_redo_restore_exact_values():
    mask = np.arange(25, dtype=np.uint8).reshape(5, 5)
    before = mask.copy()
    diff = brush_dab(mask, 2.5, 2.5, 1, 9)
    after = mask.copy()
    diff.undo(mask)
    assert (mask == before).all()
    diff.redo(mask)
    assert (mask == after).all()


def test_combine_overlapping_segments_is_one_exact_step():
    mask = np.zeros((6, 8), dtype=np.uint8)
    before = mask.copy()
    first = brush_dab(mask, 2.5, 2.5, 1.5, 1)
    second = brush_dab(mask, 3.5, 3.5, 1.5, 2)  # overlaps the first
    after = mask.copy()
    snapshot = combine([first, None, second], mask)
    assert snapshot.bbox == (1, 1, 5, 5)
    assert (snapshot.old == 0).all() and (snapshot.new == after[1:5, 1:5]).all()
    both = combine([first, None, second])  # the box's corners (1, 4), (4, 1) are in no dab
    assert both.bbox == (1, 1, 5, 5) and both.old[0, 3] == both.new[0, 3] == U
    both.undo(mask)
    assert (mask == before).all()
    both.redo(mask)
    assert (mask == after).all()


def test_combine_of_no_net_change_is_none():
    mask = blank(5, 5)
    diffs = [brush_dab(mask, 2.5, 2.5, 1, 1), erase_stroke(mask, [(2.5, 2.5)], 1)]
    assert combine(diffs) is None and combine([]) is None and combine([None]) is None


# --- random sequences ---------------------------------------------------------

HEIGHT, WIDTH = 9, 11
coords = st.floats(-4, 15, allow_nan=False)
points = st.tuples(coords, coords)
values = st.sampled_from([0, 1, 2, U])

edits = st.one_of(
    st.tuples(
        st.just("stroke"),
        st.lists(points, min_size=1, max_size=4),
        st.floats(0, 4),
        values,
        st.booleans(),
    ),
    st.tuples(st.just("polygon"), st.lists(points, min_size=1, max_size=6), values, st.booleans()),
    st.tuples(st.just("flood"), points, values, st.booleans(), st.integers(0, 3)),
    st.tuples(st.just("replace"), values, values),
    st.tuples(st.just("paste"), st.integers(0, 2**32 - 1), st.booleans()),
)


def apply_edit(mask, edit, image):
    kind = edit[0]
    if kind == "stroke":
        _, pts, radius, value, only = edit
        return brush_stroke(mask, pts, radius, value, only)
    if kind == "polygon":
        _, pts, value, only = edit
        return fill_polygon(mask, pts, value, only)
    if kind == "flood":
        _, (x, y), value, use_image, tolerance = edit
        return flood_fill(mask, x, y, value, image if use_image else None, tolerance)
    if kind == "replace":
        return replace_class(mask, edit[1], edit[2])
    labels = np.random.default_rng(edit[1]).choice([0, 1, 2, U], size=mask.shape)
    return paste_labels(mask, labels.astype(np.uint8), edit[2])


def check_diff(diff: MaskDiff | None, before, after, faithful=True):
    """The diff holds exactly the changes; with `faithful`, old/new are copies of the box."""
    if diff is None:
        assert (before == after).all()
        return
    y0, x0, y1, x1 = diff.bbox
    assert 0 <= y0 < y1 <= HEIGHT and 0 <= x0 < x1 <= WIDTH
    assert diff.changed_pixels == np.count_nonzero(before != after) > 0
    changed = diff.changed if not faithful else np.ones(diff.old.shape, dtype=bool)
    assert (before[y0:y1, x0:x1] == diff.old)[changed].all()
    assert (after[y0:y1, x0:x1] == diff.new)[changed].all()
    outside = np.ones(before.shape, dtype=bool)
    outside[y0:y1, x0:x1] = False
    assert (before[outside] == after[outside]).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(edits, min_size=1, max_size=8))
def test_random_edits_undo_and_redo_exactly(seed, sequence):
    rng = np.random.default_rng(seed)
    mask = rng.choice(np.array([0, 1, 2, U], dtype=np.uint8), size=(HEIGHT, WIDTH))
    image = rng.integers(0, 4, size=(HEIGHT, WIDTH, 2)).astype(np.uint16)
    states, diffs = [mask.copy()], []
    for edit in sequence:
        diff = apply_edit(mask, edit, image)
        check_diff(diff, states[-1], mask)
        states.append(mask.copy())
        diffs.append(diff)
    for diff, state in zip(reversed(diffs), reversed(states[:-1]), strict=True):
        if diff is not None:
            diff.undo(mask)
        assert (mask == state).all()
    for diff, state in zip(diffs, states[1:], strict=True):
        if diff is not None:
            diff.redo(mask)
        assert (mask == state).all()
    check_diff(combine(diffs, states[-1]), states[0], states[-1])
    merged = combine(diffs)
    check_diff(merged, states[0], states[-1], faithful=False)
    if merged is not None:
        merged.undo(mask)
        assert (mask == states[0]).all()


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.lists(points, min_size=2, max_size=8),
    st.floats(0, 3),
    values,
    st.booleans(),
)
# Found by this test: a segment's end computed as -1 + (-1e-107 + 1) = 0.0 painted a pixel
# more than the point given.
@example(0, [(0.0, 1.0), (-1.0, 0.0), (-1.1710527568866341e-107, 0.0)], 0.0, 0, False)
def test_stroke_painted_segment_by_segment_combines_into_one_step(seed, pts, radius, value, only):
    rng = np.random.default_rng(seed)
    mask = rng.choice(np.array([0, 1, U], dtype=np.uint8), size=(HEIGHT, WIDTH))
    original = mask.copy()
    diffs = [
        brush_stroke(mask, [a, b], radius, value, only)
        for a, b in zip(pts[:-1], pts[1:], strict=True)
    ]
    final = mask.copy()
    stroke = combine(diffs)
    check_diff(stroke, original, final, faithful=False)
    check_diff(combine(diffs, final), original, final)
    whole = original.copy()
    brush_stroke(whole, pts, radius, value, only)
    assert (whole == final).all()  # same pixels as painting the polyline at once
    if stroke is not None:
        stroke.undo(mask)
        assert (mask == original).all()
        stroke.redo(mask)
        assert (mask == final).all()


def test_flood_fill_around_or_inside_no_data_pixels():
    image = np.full((10, 12), 0.25, np.float32)
    image[3:6, 4:8] = np.nan
    image[8, 0] = np.nan  # another no-data region, not connected to the first
    mask = blank(10, 12)
    flood_fill(mask, 0.5, 0.5, 1, image=image, tolerance=0.1)
    assert (mask[np.isfinite(image)] == 1).all() and (mask[np.isnan(image)] == UNLABELLED).all()
    mask = blank(10, 12)
    flood_fill(mask, 5.5, 4.5, 2, image=image, tolerance=0.1)  # a no-data pixel
    expected = np.zeros((10, 12), bool)
    expected[3:6, 4:8] = True
    assert np.array_equal(mask == 2, expected) and (mask[~expected] == UNLABELLED).all()


def test_flood_fill_refuses_a_negative_tolerance():
    with pytest.raises(ValueError, match="tolerance"):
        flood_fill(blank(4, 4), 0.5, 0.5, 1, image=np.zeros((4, 4), np.uint8), tolerance=-1)
