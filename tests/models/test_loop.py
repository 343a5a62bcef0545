"""The one training loop: resuming from an epoch checkpoint gives the same result as an
uninterrupted run; the best validation epoch is kept; early stopping; per-batch steps."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from semsim.models.loop import fit, minibatch_epoch

X = torch.randn(96, 5, generator=torch.Generator().manual_seed(0))
Y = (X @ torch.randn(5, 1, generator=torch.Generator().manual_seed(1))).squeeze(1)


def _run(epochs: int, state_path, noise: bool = True):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    g = torch.Generator().manual_seed(3)

    def step(idx, g):  # uses the loop's generator for noise too, as the stages do
        x = X[idx] + (0.1 * torch.randn(len(idx), 5, generator=g) if noise else 0)
        return (net(x).squeeze(1) - Y[idx]).pow(2).mean()

    def val():
        return float((net(X[:32]).squeeze(1) - Y[:32]).pow(2).mean())

    res = fit("net", {"net": net}, opt, minibatch_epoch(step, 96, 16, opt, g,
                                                        show_progress=False),
              epochs=epochs, generator=g, scheduler=sched, validate=val,
              state_path=state_path, log=lambda _: None)
    return net, res


def test_resume_from_an_epoch_checkpoint_equals_an_uninterrupted_run(tmp_path):
    full, res_full = _run(5, tmp_path / "a.pt")
    _run(2, tmp_path / "b.pt")  # "interrupted" after 2 epochs
    resumed, res_resumed = _run(5, tmp_path / "b.pt")
    for a, b in zip(full.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    assert res_full.best == res_resumed.best and res_full.best_epoch == res_resumed.best_epoch
    drop = ("seconds",)
    assert ([{k: v for k, v in h.items() if k not in drop} for h in res_full.history]
            == [{k: v for k, v in h.items() if k not in drop} for h in res_resumed.history])


def _scripted(vals, patience=None, higher=False, keep_init=False):
    """A loop whose validation values are ``vals`` in turn; the weight records the epoch."""
    w = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        w.weight.fill_(0.0)
    opt = torch.optim.SGD(w.parameters(), lr=0.0)
    seen = iter(vals)

    def epoch(ep):
        with torch.no_grad():
            w.weight.fill_(float(ep + 1))
        return {"train_loss": 0.0}

    res = fit("s", {"w": w}, opt, epoch, epochs=len(vals) - keep_init,
              generator=torch.Generator(), validate=lambda: next(seen), patience=patience,
              higher_is_better=higher, keep_init=keep_init, log=lambda _: None)
    return float(w.weight.detach()), res


@pytest.mark.parametrize("higher", [False, True])
def test_the_best_validation_epoch_is_kept(higher):
    vals = [3.0, 1.0, 2.0, 4.0] if not higher else [1.0, 3.0, 2.0, 0.5]
    weight, res = _scripted(vals, higher=higher)
    assert res.best_epoch == 2 and weight == 2.0 and res.best == vals[1]
    assert len(res.history) == 4 and not res.stopped_early


def test_early_stopping_stops_after_patience_and_restores_the_best():
    weight, res = _scripted([3.0, 1.0, 2.0, 2.5, 0.1, 0.0], patience=2)
    assert res.stopped_early and len(res.history) == 4  # epochs 3 and 4 did not beat 2
    assert res.best_epoch == 2 and weight == 2.0


def test_keep_init_lets_the_start_win():
    weight, res = _scripted([0.5, 1.0, 2.0], keep_init=True)
    assert res.best_epoch == 0 and weight == 0.0


def test_minibatch_epoch_steps_a_per_batch_schedule_and_averages_terms():
    p = nn.Parameter(torch.zeros(()))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    run = minibatch_epoch(lambda idx, g: {"total": p * 0 + len(idx), "aux": p * 0 + 1.0}, 10,
                          4, opt, torch.Generator(), batch_scheduler=sched,
                          show_progress=False)
    stats = run(0)
    assert opt.param_groups[0]["lr"] == 0.125  # three batches: 4, 4, 2
    assert stats["total"] == pytest.approx((4 * 4 + 4 * 4 + 2 * 2) / 10)
    assert stats["aux"] == pytest.approx(1.0)
