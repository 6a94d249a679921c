"""Records PyTorch's values of the training-free proxies (nwot, synflow, jacob_cov) on
a few small DAG networks, for tests/proxies_reference.rs to check densenas's own
against on the same weights and batch.

Needs a Python that can `import torch` (the full torch==2.11.0 wheel) and numpy:

    bash scripts/setup-reference.sh
    .venv-ref/bin/python scripts/proxies_reference.py > tests/data/proxies_reference.json

The network is written here from its definition (docs/architecture.md), not taken
from densenas: a fixed per-feature normalisation x = (raw - mean) / std, then for
every vertex j, pre_j = [j source] x U_j + sum over edges (i, j) of h_i W_ij + b_j,
h_j = relu(pre_j), and logits = sum over sinks of h_j V_j + c. The proxies follow
NASLib's zero-cost predictors: nwot hooks the ReLUs' inputs and sums the kernels of
their binary codes, synflow takes absolute float64 parameters and an all-ones input
(after the normalisation), jacob_cov takes numpy's corrcoef of the per-sample input
gradients. Everything is float64, so the comparison can be tight.
"""
import json

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

FEATURES, CLASSES, LAYERS, WIDTH, BATCH = 16, 3, 3, 16, 12
DAGS = [
    [(0, 1), (1, 2)],          # the chain
    [(0, 2)],                  # vertex 1 isolated: two sources, two sinks
    [(0, 1), (0, 2), (1, 2)],  # every edge
]


def sources(edges):
    return [j for j in range(LAYERS) if not any(e[1] == j for e in edges)]


def sinks(edges):
    return [j for j in range(LAYERS) if not any(e[0] == j for e in edges)]


def make_weights(edges, gen):
    """The tensors in densenas's order: U_j per source, W_ij per edge, b_j per vertex,
    V_j per sink, c. Biases are non-zero so that their terms count."""
    def draw(*shape, scale):
        return (torch.randn(*shape, generator=gen) * scale).requires_grad_(True)
    ws = [draw(FEATURES, WIDTH, scale=0.6) for _ in sources(edges)]
    ws += [draw(WIDTH, WIDTH, scale=0.35) for _ in edges]
    ws += [draw(WIDTH, scale=0.1) for _ in range(LAYERS)]
    ws += [draw(WIDTH, CLASSES, scale=0.3) for _ in sinks(edges)]
    ws += [draw(CLASSES, scale=0.1)]
    return ws


def forward(edges, ws, xn, on_relu_input=None):
    src, snk = sources(edges), sinks(edges)
    it = iter(ws)
    u = {j: next(it) for j in src}
    w = {e: next(it) for e in edges}
    b = [next(it) for _ in range(LAYERS)]
    v = {j: next(it) for j in snk}
    c = next(it)
    h = []
    for j in range(LAYERS):
        pre = b[j].expand(xn.shape[0], WIDTH)
        if j in u:
            pre = pre + xn @ u[j]
        for (i, k) in edges:
            if k == j:
                pre = pre + h[i] @ w[(i, k)]
        if on_relu_input is not None:
            on_relu_input(pre)
        h.append(torch.relu(pre))
    logits = c.expand(xn.shape[0], CLASSES)
    for j in snk:
        logits = logits + h[j] @ v[j]
    return logits


def nwot(edges, ws, xn):
    k = torch.zeros(xn.shape[0], xn.shape[0])

    def hook(pre):
        nonlocal k
        x = (pre > 0).double()
        k = k + x @ x.t() + (1.0 - x) @ (1.0 - x).t()

    with torch.no_grad():
        forward(edges, ws, xn, hook)
    return torch.linalg.slogdet(k)[1].item()


def synflow(edges, ws):
    abs_ws = [w.detach().abs().double().requires_grad_(True) for w in ws]
    r = forward(edges, abs_ws, torch.ones(1, FEATURES)).sum()
    r.backward()
    return sum((w * w.grad).abs().sum().item() for w in abs_ws)


def jacob_cov(edges, ws, xn):
    x = xn.clone().requires_grad_(True)
    forward(edges, ws, x).backward(torch.ones(xn.shape[0], CLASSES))
    jacobs = x.grad.detach().numpy()
    v = np.linalg.eigvalsh(np.corrcoef(jacobs))
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


def main():
    gen = torch.Generator().manual_seed(26)
    raw = torch.randn(BATCH, FEATURES, generator=gen) * 3.0 + 1.5
    mean = raw.mean(0) + 0.25
    std = raw.std(0) * 1.5
    xn = (raw - mean) / std
    cases = []
    for edges in DAGS:
        ws = make_weights(edges, gen)
        cases.append({
            "edges": edges,
            "tensors": [w.detach().tolist() for w in ws],
            "nwot": nwot(edges, ws, xn),
            "synflow": synflow(edges, ws),
            "jacob_cov": jacob_cov(edges, ws, xn),
        })
    print(json.dumps({
        "torch_version": torch.__version__,
        "features": FEATURES,
        "classes": CLASSES,
        "layers": LAYERS,
        "width": WIDTH,
        "mean": mean.tolist(),
        "std": std.tolist(),
        "x": raw.tolist(),
        "cases": cases,
    }, indent=1))


if __name__ == "__main__":
    main()
