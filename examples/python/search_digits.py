#!/usr/bin/env python3
"""A search on the embedded digits from Python, and the export of the best network.

    make build                                             # libdensenas.so, and the package in .venv
    .venv/bin/python examples/python/search_digits.py best.onnx

Drives a session step by step (weight steps on the weight split, architecture steps on
the validation split, a phase end after each round of epochs), then evaluates the best
architecture found on the test split and exports it to ONNX. A whole search with
retraining and a run folder is one call instead: `densenas.search(config, out_dir=...)`.

Every failed call raises a `densenas.DensenasError` carrying the library's message.
"""
import argparse
import json

import densenas  # .venv holds it (make build), or a wheel (make wheel) installed anywhere


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="search_digits.onnx", help="where to write the best network (ONNX)")
    parser.add_argument("--phases", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8, help="epochs per phase")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--strategy", default="darts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    with densenas.Dataset("digits", val_fraction=0.5, seed=0) as data:
        xw, yw = data.split("weight")
        xv, yv = data.split("validation")
        xt, yt = data.split("test")
        space_config = {"features": data.features, "classes": data.classes, "layers": args.layers,
                        "width": args.width, "blocks": args.blocks}
        with densenas.Space(space_config) as space:
            # The network normalises its raw inputs with the training file's statistics.
            session = densenas.Session(space, {"strategy": args.strategy, "seed": args.seed}, dataset=data)
    # The session keeps what it needs: its space and dataset are closed already.

    b = args.batch_size
    batches = range(0, min(len(yw), len(yv)) - b + 1, b)
    phase_steps = args.epochs * len(batches)
    with session:
        for phase in range(args.phases):
            for epoch in range(args.epochs):
                for j, i in enumerate(batches):
                    # How far into the phase: the temperature of gdas and snas follows it.
                    session.set_progress((epoch * len(batches) + j) / phase_steps)
                    weight_loss = session.step_weights(xw[i : i + b], yw[i : i + b])
                    arch_loss = session.step_architecture(xv[i : i + b], yv[i : i + b])
            alpha = session.alpha()  # restarts at 0 when the phase ends
            best = session.end_phase(xv, yv)
            print(f"phase {phase + 1}: losses {weight_loss:.4f} / {arch_loss:.4f}, "
                  f"alpha {' '.join(f'{a:+.3f}' for a in alpha)}, best validation accuracy {best:.4f}")
        accuracy, loss = session.evaluate(xt, yt)
        session.export_onnx(args.output)
        print(f"best DAG: {json.dumps(session.best_dag())}")
        print(f"test accuracy {accuracy:.4f} (loss {loss:.4f}), exported to {args.output}")


if __name__ == "__main__":
    main()
