"""COCO run-length encoding of binary masks, without pycocotools.

A COCO RLE is {"size": [height, width], "counts": ...}. The mask is read in
column-major order (down the first column, then the next) as alternating runs
of 0s and 1s, starting with 0s. `counts` is either a list of run lengths
("uncompressed", used with iscrowd) or a string: pycocotools' compact form in
which each run, after the third one minus the run two before it, is written as
little-endian 5-bit groups with a continuation bit, offset into printable ASCII.
"""

from __future__ import annotations

import numpy as np


def encode(mask: np.ndarray) -> dict:
    """A binary (H, W) mask as a COCO RLE with compressed string counts."""
    return {"size": list(mask.shape), "counts": counts_to_string(run_lengths(mask))}


def decode(rle: dict) -> np.ndarray:
    """A COCO RLE (string or list counts) as a bool (H, W) mask.

    Raises ValueError when the counts do not add up to the size.
    """
    height, width = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    runs = string_to_counts(counts) if isinstance(counts, str) else [int(c) for c in counts]
    if any(c < 0 for c in runs) or sum(runs) != height * width:
        raise ValueError(f"RLE counts add up to {sum(runs)} pixels, its size is {height}x{width}")
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, runs)
    return flat.reshape((width, height)).T


def run_lengths(mask: np.ndarray) -> list[int]:
    flat = np.asarray(mask, dtype=bool).T.ravel()  # column-major
    if flat.size == 0:
        return [0]
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat[0] else runs


def counts_to_string(counts: list[int]) -> str:
    out = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            c = x & 0x1F
            x >>= 5  # arithmetic shift: negative numbers end at -1
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def string_to_counts(text: str) -> list[int]:
    counts: list[int] = []
    position = 0
    while position < len(text):
        x, shift, more = 0, 0, True
        while more:
            if position >= len(text):
                raise ValueError("compressed RLE string ends in the middle of a number")
            c = ord(text[position]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"character {text[position]!r} cannot appear in a compressed RLE")
            x |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            position += 1
            shift += 5
            if not more and c & 0x10:
                x |= -1 << shift  # sign-extend
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts
