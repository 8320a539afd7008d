import torch

from segstudio.ml.models import build_model
from segstudio.ml.step import adamw


def test_the_fused_optimiser_moves_the_weights_as_the_plain_one():
    torch.manual_seed(0)
    models = [build_model("unet", 2, in_channels=1, depth=2, base_width=4) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    start = {name: value.clone() for name, value in models[0].state_dict().items()}
    fused = adamw(list(models[0].parameters()), 1e-2, 1e-4)
    plain = torch.optim.AdamW(models[1].parameters(), lr=1e-2, weight_decay=1e-4)
    assert fused.defaults["fused"] is True  # the CPU has the fused kernel
    images, masks = torch.randn(2, 1, 32, 32), torch.randint(0, 2, (2, 32, 32))
    for _ in range(3):
        for model, optimizer in zip(models, (fused, plain), strict=True):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(images), masks).backward()
            optimizer.step()
    for (name, a), b in zip(models[0].state_dict().items(), models[1].state_dict().values(),
                            strict=True):
        assert torch.allclose(a, b, atol=1e-5), name
    assert not torch.equal(models[0].state_dict()["head.weight"], start["head.weight"])
