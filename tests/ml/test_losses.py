"""Losses against values worked out by hand; unlabelled pixels (255) are ignored by all."""

import math

import pytest
import torch
import torch.nn.functional as F

from segstudio.core.errors import UserError
from segstudio.ml.losses import (
    LOSSES,
    balanced_class_weights,
    build_loss,
    loss_names,
    loss_options,
    set_class_weights,
)

LN2 = math.log(2)


def three_pixels():
    """Logits (1, 2, 1, 3) and target (1, 1, 3):
    pixel a: logits (0, 0)    -> p = (1/2, 1/2), class 0
    pixel b: logits (ln 3, 0) -> p = (3/4, 1/4), class 1
    pixel c: logits (100, -100), unlabelled (a huge loss if it were counted as class 1)
    """
    logits = torch.tensor([[[[0.0, math.log(3), 100.0]], [[0.0, 0.0, -100.0]]]],
                          requires_grad=True)
    target = torch.tensor([[[0, 1, 255]]])
    return logits, target


def test_cross_entropy_with_class_weights():
    logits, target = three_pixels()
    loss = build_loss("ce", 2, class_weights=[1, 3])(logits, target)
    # (w0 * -ln(1/2) + w1 * -ln(1/4)) / (w0 + w1) = (ln2 + 3 * 2 ln2) / 4 = 7/4 ln2
    assert loss.item() == pytest.approx(7 / 4 * LN2, rel=1e-6)
    expected = F.cross_entropy(logits, target, weight=torch.tensor([1.0, 3.0]), ignore_index=255)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_cross_entropy_without_weights():
    logits, target = three_pixels()
    # (ln2 + ln4) / 2 = 3/2 ln2
    assert build_loss("ce", 2)(logits, target).item() == pytest.approx(1.5 * LN2, rel=1e-6)


def test_focal_with_class_weights():
    logits, target = three_pixels()
    loss = build_loss("focal", 2, class_weights=[1, 3], gamma=2)(logits, target)
    # a: (1 - 1/2)^2 * ln2 = ln2 / 4; b: (1 - 1/4)^2 * ln4 = 9/16 * 2 ln2 = 9/8 ln2
    # (1 * 1/4 + 3 * 9/8) ln2 / (1 + 3) = 3.625 / 4 ln2
    assert loss.item() == pytest.approx(3.625 / 4 * LN2, rel=1e-6)


def test_focal_with_gamma_zero_is_cross_entropy():
    logits, target = three_pixels()
    focal = build_loss("focal", 2, class_weights=[2, 5], gamma=0)(logits, target)
    ce = build_loss("ce", 2, class_weights=[2, 5])(logits, target)
    assert focal.item() == pytest.approx(ce.item(), rel=1e-6)


def test_soft_dice():
    logits, target = three_pixels()
    loss = build_loss("dice", 2, smooth=1.0)(logits, target)
    # class 0: intersection 1/2 (pixel a), sum p = 1/2 + 3/4, sum y = 1
    #   dice0 = (2 * 1/2 + 1) / (5/4 + 1 + 1) = 2 / 3.25 = 8/13
    # class 1: intersection 1/4 (pixel b), sum p = 1/2 + 1/4, sum y = 1
    #   dice1 = (2 * 1/4 + 1) / (3/4 + 1 + 1) = 1.5 / 2.75 = 6/11
    # loss = 1 - (8/13 + 6/11) / 2 = 1 - 166/286 = 60/143
    assert loss.item() == pytest.approx(60 / 143, rel=1e-6)


def test_soft_dice_with_class_weights():
    logits, target = three_pixels()
    loss = build_loss("dice", 2, class_weights=[1, 3])(logits, target)
    # 1 - (1 * 8/13 + 3 * 6/11) / 4
    assert loss.item() == pytest.approx(1 - (8 / 13 + 18 / 11) / 4, rel=1e-6)


def test_combinations():
    logits, target = three_pixels()
    ce_dice = build_loss("ce+dice", 2, weight=0.5)(logits, target)
    assert ce_dice.item() == pytest.approx(1.5 * LN2 + 0.5 * 60 / 143, rel=1e-6)
    ce_focal = build_loss("ce+focal", 2, class_weights=[1, 3], weight=2.0)(logits, target)
    assert ce_focal.item() == pytest.approx(7 / 4 * LN2 + 2 * 3.625 / 4 * LN2, rel=1e-6)


def test_balanced_class_weights_lift_rare_classes_mildly():
    # (most common / this class) ** power; a class without labels keeps 1.
    assert balanced_class_weights([800, 200, 0, 50], power=0.5) == pytest.approx(
        [1.0, 2.0, 1.0, 4.0])
    assert balanced_class_weights([780, 220]) == pytest.approx([1.0, (780 / 220) ** 0.3])
    assert balanced_class_weights([0, 0]) == [1.0, 1.0]


def test_set_class_weights_reaches_both_terms_of_a_combination():
    logits, target = three_pixels()
    loss = build_loss("ce+dice", 2, weight=0.5)
    set_class_weights(loss, [1, 3])
    expected = build_loss("ce+dice", 2, class_weights=[1, 3], weight=0.5)(logits, target)
    assert loss(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss(logits, target).item() != pytest.approx(
        build_loss("ce+dice", 2, weight=0.5)(logits, target).item())
    with pytest.raises(UserError, match="3 values for 2 classes"):
        set_class_weights(loss, [1, 2, 3])


@pytest.mark.parametrize("name", loss_names())
def test_all_unlabelled_batch_gives_exactly_zero(name):
    logits = torch.randn(2, 3, 5, 7, requires_grad=True)
    target = torch.full((2, 5, 7), 255)
    loss = build_loss(name, 3, class_weights=[0.1, 0.2, 0.3])(logits, target)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


@pytest.mark.parametrize("name", loss_names())
def test_unlabelled_pixels_neither_count_nor_get_gradient(name):
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 6, 6)
    target = torch.full((1, 6, 6), 255)
    target[0, 1, 1:4] = torch.tensor([0, 1, 2])  # a scribble of three pixels
    changed = logits.clone()
    changed[:, :, 3:] = torch.randn(1, 3, 3, 6) * 10  # rows with no label
    loss = build_loss(name, 3)
    assert loss(changed, target).item() == pytest.approx(loss(logits, target).item(), rel=1e-6)
    logits.requires_grad_(True)
    loss(logits, target).backward()
    labelled = target[0] != 255
    assert logits.grad[0][:, ~labelled].abs().max() == 0
    assert logits.grad[0][:, labelled].abs().max() > 0


@pytest.mark.parametrize("name", loss_names())
def test_scribbles_are_learned(name):
    """Free logits trained on a few labelled pixels end up predicting those labels."""
    torch.manual_seed(0)
    logits = torch.nn.Parameter(torch.randn(2, 3, 8, 8))
    target = torch.full((2, 8, 8), 255)
    target[0, 2, :] = 1
    target[1, :, 5] = 2
    target[1, 0, 0] = 0
    loss = build_loss(name, 3)
    optimizer = torch.optim.Adam([logits], lr=0.1)
    for _ in range(60):
        optimizer.zero_grad()
        loss(logits, target).backward()
        optimizer.step()
    labelled = target != 255
    assert torch.equal(logits.argmax(1)[labelled], target[labelled])


def test_accepts_uint8_targets_and_moves_weights_with_the_module():
    logits, target = three_pixels()
    loss = build_loss("ce", 2, class_weights=[1, 3]).to(torch.float64)
    assert loss(logits, target.to(torch.uint8)).item() == pytest.approx(7 / 4 * LN2, rel=1e-6)
    assert "class_weights" in dict(loss.named_buffers())


def test_class_value_out_of_range_is_a_clear_error():
    logits = torch.zeros(1, 3, 2, 2)
    target = torch.tensor([[[0, 1], [7, 255]]])
    with pytest.raises(UserError, match=r"class value\(s\) \[7\].*3 classes"):
        build_loss("ce+dice", 3)(logits, target)


def test_shapes_must_match():
    with pytest.raises(ValueError, match="target must be"):
        build_loss("ce", 3)(torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="logits must be"):
        build_loss("dice", 3)(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("lovasz", {}, "unknown loss 'lovasz'; valid losses: ce, dice, focal, ce\\+dice"),
        ("ce", {"gamma": 2}, r"unknown option\(s\) gamma for loss 'ce'; valid options: none"),
        ("focal", {"gama": 2}, "valid options: gamma"),
        ("focal", {"gamma": -1}, "gamma must be a number >= 0"),
        ("dice", {"smooth": 0}, "smooth must be above 0"),
        ("ce", {"class_weights": [1, 2]}, "2 values for 3 classes"),
        ("ce", {"class_weights": [1, -2, 1]}, "must be finite, >= 0"),
        ("ce", {"class_weights": [0, 0, 0]}, "not all 0"),
        ("ce", {"class_weights": ["a", 1, 1]}, "list of numbers"),
        ("ce", {"num_classes": 0}, "num_classes must be an integer from 1 to 255"),
    ],
)
def test_bad_arguments(name, kwargs, message):
    kwargs = {"num_classes": 3, **kwargs}
    with pytest.raises(UserError, match=message):
        build_loss(name, **kwargs)


def test_registry_and_options():
    assert isinstance(LOSSES, dict)
    assert loss_names() == ["ce", "dice", "focal", "ce+dice", "ce+focal"]
    assert loss_options("ce+focal") == {"weight": 1.0, "gamma": 2.0}
