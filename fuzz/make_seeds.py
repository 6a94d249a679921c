"""Writes the seeds of the fuzz targets into fuzz/seeds/<target>/: small slices
of the real data files (the data folder's MNIST and CIFAR-10 JPEG archives, the
test fixtures: two MNIST images and labels, one CIFAR-10
record, two CIFAR-10 JPEGs in a class-folder archive, three digits rows), the same
gzip-compressed, valid JSON configurations, and a saved session of a tiny space.

    .venv/bin/python fuzz/make_seeds.py      (from the repository root, after `make build`)
"""
import gzip
import io
import json
import os
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DENSENAS_DATA") or ROOT / "datasets")
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT / "fuzz" / "seeds"


def put(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def gz(data):
    return gzip.compress(data, mtime=0)


def idx_seeds():
    images = gzip.decompress((DATA / "mnist" / "train-images-idx3-ubyte.gz").read_bytes())
    labels = gzip.decompress((DATA / "mnist" / "train-labels-idx1-ubyte.gz").read_bytes())
    two_images = images[:4] + (2).to_bytes(4, "big") + images[8:16] + images[16 : 16 + 2 * 784]
    two_labels = labels[:4] + (2).to_bytes(4, "big") + labels[8:10]
    put("idx", "images", b"\x00" + two_images)
    put("idx", "labels", b"\x01" + two_labels)
    put("idx", "images.gz", b"\x00" + gz(two_images))
    put("idx", "labels.gz", b"\x01" + gz(two_labels))
    return two_images


def cifar_seeds():
    records = (FIXTURES / "cifar10_test_first20.bin").read_bytes()
    put("cifar", "one_record.bin", records[:3073])
    put("cifar", "one_record.bin.gz", gz(records[:3073]))


def tar_of(files):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def images_seeds():
    jpegs = {}
    with tarfile.open(DATA / "cifar10-jpeg-q75" / "cifar10_test_jpeg_q75.tar.gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) >= 3 and parts[-2] not in jpegs:
                jpegs[parts[-2]] = tar.extractfile(member).read()
            if len(jpegs) == 2:
                break
    files = [(f"{cls}/0.jpg", data) for cls, data in sorted(jpegs.items())]
    put("images", "two_classes.tar", tar_of(files))
    put("images", "two_classes.tar.gz", gz(tar_of(files)))
    from PIL import Image

    pngs = []
    for cls, shade in (("a", 0), ("b", 255)):
        buf = io.BytesIO()
        Image.new("L", (2, 2), shade).save(buf, format="PNG")
        pngs.append((f"train/{cls}/0.png", buf.getvalue()))
        pngs.append((f"test/{cls}/0.png", buf.getvalue()))
    put("images", "train_test_png.tar", tar_of(pngs))


def csv_seeds():
    rows = gzip.decompress((ROOT / "data" / "digits.csv.gz").read_bytes()).decode().splitlines()[:3]
    text = "\n".join(rows).encode() + b"\n"
    put("csv", "digits3.csv", text)
    put("csv", "header.csv", b"a,b,label\n1,2.5,0\n-3,4e2,1\n")
    put("csv", "digits3.csv.gz", gz(text))


def gzip_seeds(two_images):
    put("gzip", "idx.gz", gz(two_images[:200]))
    put("gzip", "two_members.gz", gz(b"first member\n") + gz(b"second\n"))
    put("gzip", "plain", b"not compressed")


def json_seeds():
    spaces = [
        {"features": 64, "classes": 10, "layers": 4, "width": 32, "blocks": 4},
        {"features": 4, "classes": 3, "layers": 6, "width": 8, "blocks": 3, "max_skip": 2, "activation": "gelu",
         "aggregation": "mean", "norm": "layernorm", "min_edges": 2, "max_edges": 5},
    ]
    for i, s in enumerate(spaces):
        put("space_json", f"space{i}.json", json.dumps(s).encode())
    options = [
        {"strategy": "gdas", "seed": 3, "strategy_options": {"gdas": {"tau_max": 5}}},
        {"strategy": "drnas", "seed": 1, "weight_optimizer": {"kind": "adam", "lr": 0.001},
         "density": {"p0": 0.4, "eta": 0.3, "p_min": 0.05, "elitism": 1, "feedback": "rank"}, "grad_clip": None},
    ]
    for i, o in enumerate(options):
        put("options_json", f"session{i}.json", b"\x00" + json.dumps(o).encode())
    config = {"data": "digits", "space": {"layers": 3, "width": 16, "blocks": 3}, "phases": 2, "epochs": 2,
              "first_dags": [[[0, 1]], "chain", {"random": 2}], "arch_split": "weight", "threads": 1,
              "retrain": {"epochs": 3, "batch_size": 32}}
    put("options_json", "config.json", b"\x01" + json.dumps(config).encode())


def session_seed():
    sys.path.insert(0, str(ROOT / "bindings" / "python"))
    os.environ.setdefault("DENSENAS_LIBRARY", str(ROOT / "target" / "release" / "libdensenas.so"))
    import numpy as np

    import densenas

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (8, 4)).astype(np.float32)
    y = (np.arange(8) % 3).astype(np.int64)
    space = densenas.Space({"features": 4, "classes": 3, "layers": 2, "width": 4, "blocks": 2})
    for strategy in ("darts2", "gdas"):
        session = densenas.Session(space, {"strategy": strategy, "seed": 1})
        session.step_weights(x, y)
        session.step_architecture(x, y)
        session.end_phase(x, y)
        session.step_weights(x, y)
        path = CORPUS / "session_load" / f"{strategy}.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        session.save(path)


def main():
    two_images = idx_seeds()
    cifar_seeds()
    images_seeds()
    csv_seeds()
    gzip_seeds(two_images)
    json_seeds()
    session_seed()
    for folder in sorted(CORPUS.iterdir()):
        sizes = [f.stat().st_size for f in folder.iterdir()]
        print(f"{folder.name}: {len(sizes)} seeds, {sum(sizes)} bytes")


if __name__ == "__main__":
    main()
