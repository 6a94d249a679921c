"""A population of DAG networks trained the way PyTorch trains an ensemble: one module
per member (every allowed edge's weights, the member's edge mask multiplied into its
predecessors' outputs), the members' parameters stacked with
`torch.func.stack_module_state` and the loss computed for all members at once with
`torch.vmap` over `torch.func.functional_call`; SGD with momentum and weight decay on
the stacked parameters, gradient clipping per member (its own norm). Each member reads
its seed group's batch. `densenas bench --suite compare-population` runs it beside the
population trainer on the same DAGs, data and thread count; it also times the same
members trained one at a time (plain modules, no vmap).

usage: population_reference.py CONFIG.json
CONFIG: {"layers", "width", "features", "classes", "batch", "steps", "threads",
         "masks": [[0/1 per allowed edge] per member], "edges": [[i, j], ...],
         "groups": [seed group per member], "x": "PATH of float32 [groups, batch, features]",
         "y": "PATH of int64 [groups, batch]"}
Prints one JSON line: {"member_samples_per_second", "alone_member_samples_per_second",
"torch"}.
"""
import copy
import json
import sys
import time

import numpy as np
import torch
from torch.func import functional_call, stack_module_state

CLIP = 5.0


class Member(torch.nn.Module):
    """One DAG network over all allowed edges, its mask multiplied in."""

    def __init__(self, layers, width, features, classes, edges):
        super().__init__()
        self.layers, self.width = layers, width
        self.edges = [tuple(e) for e in edges]
        self.preds = [[i for (i, t) in self.edges if t == j] for j in range(layers)]
        d = width
        self.u = torch.nn.Parameter(torch.empty(features, layers * d).uniform_(-features ** -0.5, features ** -0.5))
        self.w = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.empty(len(p) * d, d).uniform_(-d ** -0.5, d ** -0.5)) for p in self.preds if p]
        )
        self.b = torch.nn.Parameter(torch.empty(layers, d).uniform_(-d ** -0.5, d ** -0.5))
        self.v = torch.nn.Parameter(torch.empty(layers * d, classes).uniform_(-d ** -0.5, d ** -0.5))
        self.c = torch.nn.Parameter(torch.zeros(classes))

    def forward(self, x, edge_mask, source, sink):
        batch, d = x.shape[0], self.width
        ux = (x @ self.u).view(batch, self.layers, d)
        h, w = [], iter(self.w)
        for j in range(self.layers):
            pre = ux[:, j] * source[j]
            if self.preds[j]:
                parts = [h[i] * edge_mask[self.edges.index((i, j))] for i in self.preds[j]]
                pre = pre + torch.cat(parts, 1) @ next(w)
            h.append(torch.relu(pre + self.b[j]))
        return torch.cat([h[j] * sink[j] for j in range(self.layers)], 1) @ self.v + self.c


def sources_and_sinks(masks, edges, layers):
    p = masks.shape[0]
    has_in, has_out = torch.zeros(p, layers), torch.zeros(p, layers)
    for e, (i, j) in enumerate(edges):
        has_in[:, j] = torch.maximum(has_in[:, j], masks[:, e])
        has_out[:, i] = torch.maximum(has_out[:, i], masks[:, e])
    return 1 - has_in, 1 - has_out


def timed(step, steps):
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def ensemble_seconds(models, x, y, groups, masks, source, sink, steps):
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def loss(p, b, xm, ym, m, s, t):
        return torch.nn.functional.cross_entropy(functional_call(base, (p, b), (xm, m, s, t)), ym)

    losses = torch.vmap(loss)
    opt = torch.optim.SGD(list(params.values()), lr=0.05, momentum=0.9, weight_decay=3e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        losses(params, buffers, x[groups], y[groups], masks, source, sink).sum().backward()
        norms = torch.sqrt(sum(p.grad.pow(2).flatten(1).sum(1) for p in params.values()))
        scale = (CLIP / (norms + 1e-6)).clamp(max=1.0)
        for p in params.values():
            p.grad.mul_(scale.view(-1, *[1] * (p.dim() - 1)))
        opt.step()

    return timed(step, steps)


def alone_seconds(model, x, y, mask, source, sink, steps):
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=3e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x, mask, source, sink), y).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()

    return timed(step, steps)


def main():
    cfg = json.load(open(sys.argv[1]))
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    layers, batch, features = cfg["layers"], cfg["batch"], cfg["features"]
    edges = [tuple(e) for e in cfg["edges"]]
    masks = torch.tensor(cfg["masks"], dtype=torch.float32)
    groups = torch.tensor(cfg["groups"], dtype=torch.int64)
    source, sink = sources_and_sinks(masks, edges, layers)
    x = torch.from_numpy(np.fromfile(cfg["x"], dtype=np.float32).reshape(-1, batch, features))
    y = torch.from_numpy(np.fromfile(cfg["y"], dtype=np.int64).reshape(-1, batch))
    p = masks.shape[0]
    models = [Member(layers, cfg["width"], features, cfg["classes"], edges) for _ in range(p)]
    ensemble = ensemble_seconds(models, x, y, groups, masks, source, sink, cfg["steps"])
    alone = sum(
        alone_seconds(models[m], x[groups[m]], y[groups[m]], masks[m], source[m], sink[m], cfg["steps"]) for m in range(p)
    )
    print(json.dumps({
        "member_samples_per_second": p * batch / ensemble,
        "alone_member_samples_per_second": p * batch / alone,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
