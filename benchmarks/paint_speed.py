"""Paint speed on a huge mask vs a small one: a brush must cost the same on both.

Times single dabs and a 200-point stroke (painted segment by segment, as the
canvas does while the mouse moves, then combined into one undo step) on an
8,000 x 8,000 mask and on a 512 x 512 one, at the same positions. Prints
microseconds per dab / per segment and the big/small ratio, which should be ~1.
Then one fast flick of the mouse: a single segment from corner to corner of the big
mask, its time and peak memory (numpy's, by tracemalloc); per pixel of stroke length it
should cost about what the short segments do. Last, a polygon (lasso) over the whole big
mask: its time and peak memory beside the mask's own 61 MB.

    python benchmarks/paint_speed.py [--radius 12] [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import time
import tracemalloc

import numpy as np

from segstudio.core.edits import brush_dab, brush_stroke, combine, fill_polygon
from segstudio.core.masks import empty_mask

DABS = 500
STROKE_POINTS = 200


def best_time(function, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def measure(size: int, radius: float, repeats: int) -> tuple[float, float, float]:
    """(microseconds per dab, microseconds per stroke segment incl. combine, mean segment
    length in px) on a size^2 mask."""
    rng = np.random.default_rng(0)
    mask = empty_mask(size, size)
    dab_points = rng.uniform(20, 490, size=(DABS, 2))  # inside both masks
    angles = np.linspace(0, 4 * np.pi, STROKE_POINTS)
    stroke = np.stack([250 + 200 * np.cos(angles), 250 + 150 * np.sin(1.5 * angles)], axis=1)

    def dabs():
        for i, (x, y) in enumerate(dab_points):
            brush_dab(mask, x, y, radius, i % 3)

    def segments():
        pts = [tuple(p) for p in stroke]
        diffs = [
            brush_stroke(mask, [a, b], radius, 1) for a, b in zip(pts[:-1], pts[1:], strict=True)
        ]
        combine(diffs)
        mask[:512, :512] = 255  # same starting state for every repeat

    per_dab = best_time(dabs, repeats) / DABS * 1e6
    per_segment = best_time(segments, repeats) / (STROKE_POINTS - 1) * 1e6
    segment_length = float(np.linalg.norm(np.diff(stroke, axis=0), axis=1).mean())
    return per_dab, per_segment, segment_length


def flick(size: int, radius: float) -> tuple[float, float, float]:
    """(seconds, peak MB, length in px) of one corner-to-corner segment on a size^2 mask."""
    mask = empty_mask(size, size)
    start, end = (2.5, 3.5), (size - 2.5, size - 4.5)
    tracemalloc.start()
    began = time.perf_counter()
    brush_stroke(mask, [start, end], radius, 1)
    seconds = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, math.dist(start, end)


def polygon(size: int) -> tuple[float, float]:
    """(seconds, peak MB) of a five-cornered polygon across a size^2 mask."""
    mask = empty_mask(size, size)
    corners = [(10, 10), (size - 10, 30), (size - 100, size - 20), (40, size - 100),
               (size / 2, size / 2 + 0.5)]
    tracemalloc.start()
    began = time.perf_counter()
    fill_polygon(mask, corners, 1)
    seconds = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radius", type=float, default=12)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    small = measure(512, args.radius, args.repeats)
    big = measure(8000, args.radius, args.repeats)
    print(f"brush radius {args.radius:g}, best of {args.repeats}")
    print(f"{'':22}{'512 x 512':>12}{'8000 x 8000':>14}{'ratio':>8}")
    for name, a, b in [("dab (us)", small[0], big[0]), ("stroke segment (us)", small[1], big[1])]:
        print(f"{name:22}{a:12.1f}{b:14.1f}{b / a:8.2f}")
    seconds, peak, length = flick(8000, args.radius)
    per_px_flick, per_px_short = seconds / length * 1e6, big[1] / big[2]
    print(f"one flick corner to corner of 8000 x 8000 ({length:.0f} px): {seconds:.3f} s, "
          f"peak {peak:.0f} MB; {per_px_flick:.1f} us per px of stroke vs {per_px_short:.1f} "
          f"for short segments (ratio {per_px_flick / per_px_short:.2f})")
    seconds, peak = polygon(8000)
    print(f"a polygon across 8000 x 8000: {seconds:.3f} s, peak {peak:.0f} MB")


if __name__ == "__main__":
    main()
