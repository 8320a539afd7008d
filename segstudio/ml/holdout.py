"""Validation without a 'val' split: hold a stable share of the labelled images out."""

from __future__ import annotations

import zlib

import numpy as np

from segstudio.core.classes import UNLABELLED

HOLD_OUT_ONE_IN = 5  # without a 'val' split, about one labelled image in five validates


class HoldOutSource:
    """A SampleSource validating on the wrapped source's own validation samples (a
    project's 'val' split) or, when it has none, on labelled images held out
    automatically: those whose name hashes to 0 modulo HOLD_OUT_ONE_IN (so the choice
    stays put as labels are added), at least one when there are two or more labelled
    images, and none that holds the only labels of a class. Samples pass through
    unchanged, so the trainer recognises them from one reload to the next.
    """

    def __init__(self, source):
        self.source = source
        self.held_out: list[str] = []  # names of the samples held out, once split

    @property
    def classes(self):
        return self.source.classes

    def train_samples(self) -> list:
        return self._split()[0]

    def val_samples(self) -> list:
        return self._split()[1]

    def _split(self) -> tuple[list, list]:
        train, val = self.source.train_samples(), self.source.val_samples()
        present = {} if val else {s.name: classes for s in train if (classes := _classes_in(s))}
        self.held_out = sorted(_held_out(present)) if len(present) >= 2 else []
        held = set(self.held_out)
        if not held:
            return train, val
        return [s for s in train if s.name not in held], [s for s in train if s.name in held]


def _held_out(present: dict[str, set[int]]) -> set[str]:
    """The names to hold out of the labelled images (name -> classes labelled in it):
    those whose name hashes to 0 modulo HOLD_OUT_ONE_IN, else the one of smallest hash;
    never one whose class no other training image shows (the model would not learn it):
    others take its place."""
    ordered = sorted(present, key=_name_hash)
    preferred = [name for name in ordered if _name_hash(name) % HOLD_OUT_ONE_IN == 0]
    wanted = len(preferred) if 0 < len(preferred) < len(ordered) else 1
    every_class = set().union(*present.values())
    held: set[str] = set()
    for name in preferred + [name for name in ordered if name not in preferred]:
        trial = held | {name}
        if set().union(*(c for n, c in present.items() if n not in trial)) == every_class:
            held = trial
            if len(held) == wanted:
                break
    return held


def _classes_in(sample) -> set[int]:
    counts = np.bincount(sample.load_mask().ravel(), minlength=256)
    counts[UNLABELLED] = 0
    return set(np.flatnonzero(counts).tolist())


def _name_hash(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))
