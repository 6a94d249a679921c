"""The densenas supernet written as a PyTorch user would write it: all k blocks batched,
each block's edge mask multiplied into its predecessors' outputs, one matrix product
per vertex over all its allowed predecessors, the blocks mixed by softmax(alpha), SGD
with momentum and weight decay, gradient clipping. `densenas bench --suite compare`
runs it beside the engine on the same space, masks, batch and thread count.

usage: supernet_reference.py CONFIG.json
CONFIG: {"layers", "width", "features", "classes", "batch", "steps", "threads",
         "masks": [[0/1 per allowed edge] per block], "edges": [[i, j], ...],
         "x": "PATH of float32 [batch, features]", "y": "PATH of int64 [batch]"}
Prints one JSON line: {"step_seconds", "samples_per_second", "torch"}.
"""
import json
import sys
import time

import numpy as np
import torch


class Supernet(torch.nn.Module):
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
        k, batch, d = edge_mask.shape[0], x.shape[0], self.width
        ux = (x @ self.u).view(batch, self.layers, d)
        h, w = [], iter(self.w)
        for j in range(self.layers):
            pre = ux[:, j].unsqueeze(0) * source[:, j].view(k, 1, 1)
            if self.preds[j]:
                parts = [h[i] * edge_mask[:, self.edges.index((i, j))].view(k, 1, 1) for i in self.preds[j]]
                pre = pre + torch.cat(parts, 2) @ next(w)
            h.append(torch.relu(pre + self.b[j]))
        sinks = [h[j] * sink[:, j].view(k, 1, 1) for j in range(self.layers)]
        return torch.cat(sinks, 2) @ self.v + self.c


def main():
    cfg = json.load(open(sys.argv[1]))
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    layers, batch = cfg["layers"], cfg["batch"]
    masks = torch.tensor(cfg["masks"], dtype=torch.float32)
    edges = [tuple(e) for e in cfg["edges"]]
    k = masks.shape[0]
    has_in = torch.zeros(k, layers)
    has_out = torch.zeros(k, layers)
    for e, (i, j) in enumerate(edges):
        has_in[:, j] = torch.maximum(has_in[:, j], masks[:, e])
        has_out[:, i] = torch.maximum(has_out[:, i], masks[:, e])
    source, sink = 1 - has_in, 1 - has_out
    x = torch.from_numpy(np.fromfile(cfg["x"], dtype=np.float32).reshape(batch, cfg["features"]))
    y = torch.from_numpy(np.fromfile(cfg["y"], dtype=np.int64))
    net = Supernet(layers, cfg["width"], cfg["features"], cfg["classes"], edges)
    alpha = torch.zeros(k)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=3e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = (torch.softmax(alpha, 0).view(k, 1, 1) * net(x, masks, source, sink)).sum(0)
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        return loss.item()

    step()
    start = time.perf_counter()
    for _ in range(cfg["steps"]):
        step()
    seconds = (time.perf_counter() - start) / cfg["steps"]
    print(json.dumps({"step_seconds": seconds, "samples_per_second": batch / seconds, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
