"""Validation without a 'val' split: hold a stable share of the labelled images out."""

from __future__ import annotations

import zlib

from segstudio.core.classes import UNLABELLED

HOLD_OUT_ONE_IN = 5  # without a 'val' split, about one labelled image in five validates


class HoldOutSource:
    """A SampleSource validating on the wrapped source's own validation samples (a
    project's 'val' split) or, when it has none, on labelled images held out automatically: those whose name hashes to 0 modulo
    HOLD_OUT_ONE_IN (so the choice stays put as labels are added), at least one when
    there are two or more labelled images. Samples pass through unchanged, so the
    trainer recognises them from one reload to the next.
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
        labelled = [] if val else [s for s in train if _has_labels(s)]
        if len(labelled) < 2:
            self.held_out = []
            return train, val
        held = {s.name for s in labelled if _name_hash(s.name) % HOLD_OUT_ONE_IN == 0}
        if not held or len(held) == len(labelled):
            held = {min(labelled, key=lambda s: _name_hash(s.name)).name}
        self.held_out = sorted(held)
        return [s for s in train if s.name not in held], [s for s in train if s.name in held]


def _has_labels(sample) -> bool:
    return bool((sample.load_mask() != UNLABELLED).any())


def _name_hash(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))
