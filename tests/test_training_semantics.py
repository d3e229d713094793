"""What the training loop promises, observed from outside it: gradients clipped to train.grad_clip, a new
order of the samples each epoch (the same for the same seed), and best.pt holding the best epoch, not the last."""
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

import netspec
from netspec import evaluation, runner
from tests.test_runner import tiny_dict, weights


def _train(tmp_path, name: str, **train) -> str:
    spec = tiny_dict(train=train, output={"dir": str(tmp_path / name), "tensorboard": False})
    return netspec.train(spec).run_dir


def _grad_norms(tmp_path, name: str, **train) -> list[float]:
    """The norm of all gradients together at each optimizer step, as the optimizer is about to use them."""
    norms = []

    def before_step(optimizer, args, kwargs):
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item())
    handle = register_optimizer_step_pre_hook(before_step)
    try:
        _train(tmp_path, name, epochs=1, **train)
    finally:
        handle.remove()
    return norms


def test_grad_clip_bounds_the_norm_of_every_step_and_without_it_norms_are_larger(tmp_path):
    clipped = _grad_norms(tmp_path, "clipped", grad_clip=0.05)
    free = _grad_norms(tmp_path, "free")
    assert len(clipped) == len(free) == 23  # ceil(1,438 / 64) steps
    assert max(clipped) <= 0.05 * (1 + 1e-5)
    assert max(free) > 0.2  # so the bound above is the clip's doing


def _epoch_orders(tmp_path, name: str, monkeypatch) -> list[list[float]]:
    """Per epoch, a fingerprint of each training sample in the order the model saw them."""
    seen: list[list[float]] = []
    real = torch.nn.Flatten.forward

    def spy(self, x):
        if self.training:
            if not seen or len(seen[-1]) >= 1438:
                seen.append([])
            seen[-1] += (x.flatten(1) * torch.arange(1, 65)).sum(1).tolist()
        return real(self, x)
    monkeypatch.setattr(torch.nn.Flatten, "forward", spy)
    _train(tmp_path, name, epochs=2)
    monkeypatch.setattr(torch.nn.Flatten, "forward", real)
    return seen


def test_each_epoch_sees_the_samples_in_a_new_order_and_the_same_seed_repeats_it(tmp_path, monkeypatch):
    first = _epoch_orders(tmp_path, "a", monkeypatch)
    again = _epoch_orders(tmp_path, "b", monkeypatch)
    assert [len(e) for e in first] == [1438, 1438]
    assert sorted(first[0]) == sorted(first[1])  # every sample once per epoch
    assert first[0] != first[1]
    assert first == again


def test_best_pt_holds_the_epoch_with_the_best_test_accuracy_not_the_last(tmp_path, monkeypatch):
    scripted = iter([0.5, 0.9, 0.6])
    real = evaluation.run_eval

    def scored(*args, **kwargs):
        return dict(real(*args, **kwargs), accuracy=next(scripted))
    monkeypatch.setattr(runner, "run_eval", scored)
    saved = {}
    real_save = runner.checkpoint.save

    def remember(path, payload):
        saved.setdefault(payload["epoch"], {k: v.clone() for k, v in payload["state_dict"].items()})
        real_save(path, payload)
    monkeypatch.setattr(runner.checkpoint, "save", remember)
    run_dir = _train(tmp_path, "best", epochs=3)
    best = torch.load(f"{run_dir}/best.pt", weights_only=True)
    assert best["epoch"] == 2
    assert all(torch.equal(best["state_dict"][k], saved[2][k]) for k in saved[2])
    assert not all(torch.equal(weights(f"{run_dir}/last.pt")[k], saved[2][k]) for k in saved[2])


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
