"""Records what PyTorch's optimisers, gradient clipping and cosine schedule do on a few
hand-sized steps, for tests/optim_reference.rs to check densenas's own against.

Needs a Python that can `import torch` (the full torch==2.11.0 wheel):

    bash scripts/setup-reference.sh
    .venv-ref/bin/python scripts/optim_reference.py > tests/data/optim_reference.json

Everything is float64, so the comparison can be tight (1e-12).
"""
import json
import math

import torch

torch.set_default_dtype(torch.float64)


def tensor_list(ts):
    return [t.detach().flatten().tolist() for t in ts]


def case_optimizer(name, make, params, grads_per_step):
    """Steps `make(params)` with the given gradients; records every parameter value."""
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    opt = make(ps)
    trajectory = []
    for grads in grads_per_step:
        for p, g in zip(ps, grads):
            p.grad = torch.tensor(g)
        opt.step()
        trajectory.append(tensor_list(ps))
    return {"name": name, "params": params, "grads": grads_per_step, "expected": trajectory}


def main():
    params = [[0.5, -1.25, 2.0], [[0.1, 0.2], [-0.3, 0.4]]]
    grads = [
        [[0.3, -0.1, 0.05], [[1.0, -2.0], [0.5, 0.25]]],
        [[-0.2, 0.4, 0.0], [[0.0, 1.5], [-0.75, 0.1]]],
        [[0.01, 0.02, -0.03], [[-1.0, 0.3], [0.2, -0.6]]],
        [[1.5, -0.5, 0.25], [[0.4, 0.4], [0.4, 0.4]]],
    ]
    cases = [
        {**case_optimizer(
            "sgd momentum 0.9 weight decay 3e-4 lr 0.05",
            lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=3e-4),
            params, grads,
        ), "kind": "sgd", "lr": 0.05, "momentum": 0.9, "betas": [0.9, 0.999], "weight_decay": 3e-4},
        {**case_optimizer(
            "sgd plain lr 0.1",
            lambda ps: torch.optim.SGD(ps, lr=0.1),
            params, grads,
        ), "kind": "sgd", "lr": 0.1, "momentum": 0.0, "betas": [0.9, 0.999], "weight_decay": 0.0},
        {**case_optimizer(
            "adam betas (0.5, 0.999) weight decay 1e-3 lr 0.05 (the architecture optimiser)",
            lambda ps: torch.optim.Adam(ps, lr=0.05, betas=(0.5, 0.999), weight_decay=1e-3),
            params, grads,
        ), "kind": "adam", "lr": 0.05, "momentum": 0.0, "betas": [0.5, 0.999], "weight_decay": 1e-3},
        {**case_optimizer(
            "adam default betas lr 1e-3",
            lambda ps: torch.optim.Adam(ps, lr=1e-3),
            params, grads,
        ), "kind": "adam", "lr": 1e-3, "momentum": 0.0, "betas": [0.9, 0.999], "weight_decay": 0.0},
    ]

    clips = []
    for max_norm in [0.5, 2.0, 100.0]:
        gs = [torch.tensor(g) for g in grads[0]]
        for g in gs:
            g.requires_grad_(False)
        ps = [torch.zeros_like(g, requires_grad=True) for g in gs]
        for p, g in zip(ps, gs):
            p.grad = g.clone()
        norm = torch.nn.utils.clip_grad_norm_(ps, max_norm)
        clips.append({
            "max_norm": max_norm,
            "grads": grads[0],
            "norm": float(norm),
            "expected": tensor_list([p.grad for p in ps]),
        })

    schedules = []
    for base, total in [(0.05, 10), (0.1, 7)]:
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=base)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=0.0)
        lrs = []
        for _ in range(total + 1):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        schedules.append({"base": base, "total": total, "expected": lrs})

    print(json.dumps({
        "torch_version": torch.__version__,
        "optimizers": cases,
        "clip_grad_norm": clips,
        "cosine_schedule": schedules,
    }, indent=1))


if __name__ == "__main__":
    main()
