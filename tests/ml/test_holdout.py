"""Validation held out automatically when a project has no 'val' split."""

import numpy as np

from segstudio.ml.data import Sample
from segstudio.ml.holdout import HoldOutSource


def sample(name, labelled=True, classes=(1,)):
    mask = np.full((8, 8), 255, np.uint8)
    if labelled:
        for row, value in enumerate(classes):
            mask[row] = value
    return Sample(name, lambda: np.zeros((8, 8, 1), np.uint8), lambda m=mask: m)


class Source:
    def __init__(self, train, val):
        self.train, self.val = train, val

    def train_samples(self):
        return self.train

    def val_samples(self):
        return self.val


def test_hold_out_source_validates_on_the_val_split_or_holds_images_out():
    train = [sample(f"img{i:02d}") for i in range(12)] + [sample("blank", labelled=False)]
    held = HoldOutSource(Source(train, []))
    val_names = [s.name for s in held.val_samples()]
    train_names = {s.name for s in held.train_samples()}
    assert val_names and held.held_out == sorted(val_names)
    assert not train_names & set(val_names) and "blank" in train_names
    assert len(train_names) + len(val_names) == len(train)
    # The same samples (objects) come back on every call, and the choice stays put: an
    # image added may validate too, but those that did still do.
    assert held.val_samples()[0] is held.val_samples()[0]
    more = HoldOutSource(Source(train + [sample("new")], []))
    assert set(val_names) <= {s.name for s in more.val_samples()}
    assert len(val_names) == 2  # about one in five of the 12 labelled (four names hash so)
    # A 'val' split is used as it is; a single labelled image is not held out.
    own_val = [sample("v")]
    assert HoldOutSource(Source(train, own_val)).val_samples() == own_val
    single = HoldOutSource(Source([sample("only")], []))
    assert single.val_samples() == [] and single.held_out == []


def test_an_image_with_the_only_labels_of_a_class_is_never_held_out():
    # "edges" hashes to 0 modulo HOLD_OUT_ONE_IN: it validates when it can be spared.
    alike = HoldOutSource(Source([sample("cells", classes=(0,)), sample("edges", classes=(0,))], []))
    assert [s.name for s in alike.val_samples()] == ["edges"]
    # It holds the only "1" labels: "cells" validates instead.
    needed = HoldOutSource(Source([sample("cells", classes=(0,)), sample("edges", classes=(0, 1))],
                                  []))
    assert [s.name for s in needed.val_samples()] == ["cells"]
    assert [s.name for s in needed.train_samples()] == ["edges"] and needed.held_out == ["cells"]
    # Each holds a class of its own: nothing can be spared, both train.
    apart = HoldOutSource(Source([sample("cells", classes=(1,)), sample("edges", classes=(0,))], []))
    assert apart.val_samples() == [] and len(apart.train_samples()) == 2 and apart.held_out == []


def test_a_small_project_holds_one_image_out_and_never_most_of_the_labels():
    """2 of 3 images were held out (both names hash to 0 modulo 5), or the only large one."""
    names = ["img03", "img06", "img01"]  # img03 and img06 hash to 0 modulo HOLD_OUT_ONE_IN
    three = HoldOutSource(Source([sample(n) for n in names], []))
    assert [s.name for s in three.val_samples()] == ["img03"]

    def sized(name, side):
        mask = np.ones((side, side), np.uint8)
        return Sample(name, lambda: np.zeros((side, side, 1), np.uint8), lambda: mask)

    large = HoldOutSource(Source([sized("img03", 512), sized("img01", 20), sized("b", 3)], []))
    assert "img03" in {s.name for s in large.train_samples()}
    assert large.held_out and "img03" not in large.held_out
