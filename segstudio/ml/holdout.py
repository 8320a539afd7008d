"""Validation without a 'val' split: hold a stable share of the labelled images out."""

from __future__ import annotations

import zlib

import numpy as np

from segstudio.core.classes import UNLABELLED

HOLD_OUT_ONE_IN = 5  # without a 'val' split, about one labelled image in five validates
MAX_HELD_OUT_PIXELS = 0.5  # and never most of the labelled pixels (one large image)


class HoldOutSource:
    """A SampleSource validating on the wrapped source's own validation samples (a
    project's 'val' split) or, when it has none, on labelled images held out
    automatically: those whose name hashes to 0 modulo HOLD_OUT_ONE_IN (so the choice
    stays put as labels are added), at least one when there are two or more labelled
    images, about one in HOLD_OUT_ONE_IN at most, none that holds the only labels of a
    class, and not most of the labelled pixels. Samples pass through unchanged, so the
    trainer recognises them from one reload to the next.
    """

    def __init__(self, source):
        self.source = source
        self.held_out: list[str] = []  # names of the samples held out, once split

    @property
    def classes(self):
        return self.source.classes

    @property
    def missing_labelled(self) -> list[str]:
        return getattr(self.source, "missing_labelled", [])

    def train_samples(self) -> list:
        return self._split()[0]

    def val_samples(self) -> list:
        return self._split()[1]

    def _split(self) -> tuple[list, list]:
        train, val = self.source.train_samples(), self.source.val_samples()
        present = {} if val else {s.name: counts for s in train if (counts := _counts(s))}
        self.held_out = sorted(_held_out(present)) if len(present) >= 2 else []
        held = set(self.held_out)
        if not held:
            return train, val
        return [s for s in train if s.name not in held], [s for s in train if s.name in held]


def _held_out(present: dict[str, dict[int, int]]) -> set[str]:
    """The names to hold out of the labelled images (name -> pixels labelled per class):
    those whose name hashes to 0 modulo HOLD_OUT_ONE_IN, else the one of smallest hash,
    about one image in HOLD_OUT_ONE_IN at most; never one whose class no other training
    image shows (the model would not learn it), nor so many that most labelled pixels
    would not train: others take their place."""
    ordered = sorted(present, key=_name_hash)
    preferred = [name for name in ordered if _name_hash(name) % HOLD_OUT_ONE_IN == 0]
    most = max(1, round(len(ordered) / HOLD_OUT_ONE_IN))
    wanted = min(len(preferred), most) if 0 < len(preferred) < len(ordered) else 1
    every_class = set().union(*present.values())
    pixels = {name: sum(counts.values()) for name, counts in present.items()}
    allowed = MAX_HELD_OUT_PIXELS * sum(pixels.values())
    held: set[str] = set()
    for name in preferred + [name for name in ordered if name not in preferred]:
        trial = held | {name}
        if sum(pixels[n] for n in trial) > allowed:
            continue
        if set().union(*(c for n, c in present.items() if n not in trial)) == every_class:
            held = trial
            if len(held) == wanted:
                break
    return held


def _counts(sample) -> dict[int, int]:
    """Pixels labelled per class in the sample's mask (classes it has only)."""
    counts = np.bincount(sample.load_mask().ravel(), minlength=256)
    counts[UNLABELLED] = 0
    return {int(c): int(counts[c]) for c in np.flatnonzero(counts)}


def _name_hash(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))
