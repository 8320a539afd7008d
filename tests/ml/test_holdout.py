"""Validation held out automatically when a project has no 'val' split."""

import numpy as np

from segstudio.ml.data import Sample
from segstudio.ml.holdout import HoldOutSource


def test_hold_out_source_validates_on_the_val_split_or_holds_images_out():
    def sample(name, labelled=True):
        mask = np.full((8, 8), 255, np.uint8)
        if labelled:
            mask[:2] = 1
        return Sample(name, lambda: np.zeros((8, 8, 1), np.uint8), lambda m=mask: m)

    class Source:
        def __init__(self, train, val):
            self.train, self.val = train, val

        def train_samples(self):
            return self.train

        def val_samples(self):
            return self.val

    train = [sample(f"img{i:02d}") for i in range(12)] + [sample("blank", labelled=False)]
    held = HoldOutSource(Source(train, []))
    val_names = [s.name for s in held.val_samples()]
    train_names = {s.name for s in held.train_samples()}
    assert val_names and held.held_out == sorted(val_names)
    assert not train_names & set(val_names) and "blank" in train_names
    assert len(train_names) + len(val_names) == len(train)
    # The same samples (objects) come back on every call, and the choice stays put.
    assert held.val_samples()[0] is held.val_samples()[0]
    assert [s.name for s in HoldOutSource(Source(train + [sample("new")], [])).val_samples()
            if s.name != "new"] == val_names
    # A 'val' split is used as it is; a single labelled image is not held out.
    own_val = [sample("v")]
    assert HoldOutSource(Source(train, own_val)).val_samples() == own_val
    single = HoldOutSource(Source([sample("only")], []))
    assert single.val_samples() == [] and single.held_out == []
