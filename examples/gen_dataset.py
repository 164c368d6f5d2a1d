#!/usr/bin/env python3
"""Writes the main job's data into a hub cache, in the exact huggingface_hub layout.

  gen_dataset.py HUB_DIR [--images N] [--seed S]

datasets--hfshim--tiny-images  N 32x32 RGB PNG images in 4 classes (train/<class>/<n>.png) plus
                               a labels.json; snapshot files are relative symlinks into blobs/
models--hfshim--tiny-cnn       config.json and pytorch_model.bin (a torch state_dict of the
                               small CNN examples/train.py trains)
Deterministic for a given seed. Needs numpy, PIL (python3-pil) and torch (python3-torch).
"""

import argparse
import hashlib
import io
import json
import os

import numpy as np
from PIL import Image

CLASSES = ["stripes", "checks", "disc", "gradient"]
DATASET = "datasets--hfshim--tiny-images"
MODEL = "models--hfshim--tiny-cnn"


def revision(name):
    return hashlib.sha1(name.encode()).hexdigest()


def add(repo_dir, rev, rel, data):
    sha = hashlib.sha256(data).hexdigest()
    blob = os.path.join(repo_dir, "blobs", sha)
    os.makedirs(os.path.dirname(blob), exist_ok=True)
    if not os.path.exists(blob):
        with open(blob, "wb") as f:
            f.write(data)
    link = os.path.join(repo_dir, "snapshots", rev, rel)
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.lexists(link):
        os.symlink("../" * (rel.count("/") + 2) + "blobs/" + sha, link)


def set_ref(repo_dir, rev):
    os.makedirs(os.path.join(repo_dir, "refs"), exist_ok=True)
    with open(os.path.join(repo_dir, "refs", "main"), "w") as f:
        f.write(rev)


def image(kind, rng):
    y, x = np.mgrid[0:32, 0:32]
    phase, freq = rng.uniform(0, 6.28), rng.uniform(0.4, 0.9)
    if kind == 0:
        base = np.sin(x * freq + phase)
    elif kind == 1:
        base = np.sign(np.sin(x * freq + phase) * np.sin(y * freq + phase))
    elif kind == 2:
        cx, cy, r = rng.uniform(10, 22), rng.uniform(10, 22), rng.uniform(5, 10)
        base = np.where((x - cx) ** 2 + (y - cy) ** 2 < r * r, 1.0, -1.0)
    else:
        base = (x + y) / 31.0 - 1.0
    color = rng.uniform(0.3, 1.0, size=3)
    img = (base[..., None] * color + rng.normal(0, 0.25, size=(32, 32, 3)) + 1) * 127.5
    return np.clip(img, 0, 255).astype(np.uint8)


def png_bytes(arr):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("hub_dir")
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)

    ds_dir, ds_rev = os.path.join(a.hub_dir, DATASET), revision("tiny-images-v1")
    labels = {}
    for i in range(a.images):
        kind = i % len(CLASSES)
        rel = "train/%s/%05d.png" % (CLASSES[kind], i)
        add(ds_dir, ds_rev, rel, png_bytes(image(kind, rng)))
        labels[rel] = kind
    add(ds_dir, ds_rev, "labels.json", json.dumps({"classes": CLASSES}).encode())
    set_ref(ds_dir, ds_rev)

    import torch  # only the model repo needs torch
    from train import TinyCNN
    torch.manual_seed(a.seed)
    md_dir, md_rev = os.path.join(a.hub_dir, MODEL), revision("tiny-cnn-v1")
    add(md_dir, md_rev, "config.json", json.dumps({"num_classes": len(CLASSES)}).encode())
    buf = io.BytesIO()
    torch.save(TinyCNN(len(CLASSES)).state_dict(), buf)
    add(md_dir, md_rev, "pytorch_model.bin", buf.getvalue())
    set_ref(md_dir, md_rev)
    print("wrote %d images and a model into %s" % (a.images, a.hub_dir))


if __name__ == "__main__":
    main()
