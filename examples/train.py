#!/usr/bin/env python3
"""The main job: trains a small image classifier from a Hugging Face hub cache.

  python3 train.py [--cache-dir DIR] [--epochs N] [--workers N]

Finds datasets--hfshim--tiny-images and models--hfshim--tiny-cnn in the hub cache the way
huggingface_hub does (HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, $HF_HOME/hub,
$XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub), resolves refs/main to a snapshot,
reads every image with a shuffling DataLoader using forked workers, starts from the model repo's
weights, and prints what it read. Exits 2 if the data is not in the cache. Under LD_PRELOAD=
libhfshim.so an empty hub cache directory shows the repos pushed to the store.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

DATASET = "datasets--hfshim--tiny-images"
MODEL = "models--hfshim--tiny-cnn"


class TinyCNN(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Linear(32 * 8 * 8, num_classes)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def hub_cache(arg):
    if arg:
        return arg
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return os.path.expanduser(os.environ[var])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return os.path.join(os.path.expanduser(home), "hub")


def snapshot(cache, repo):
    ref = os.path.join(cache, repo, "refs", "main")
    try:
        with open(ref) as f:
            rev = f.read().strip()
    except FileNotFoundError:
        sys.exit("train.py: %s is not in the hub cache %s (no %s); push it with hfshim-push and "
                 "run with LD_PRELOAD=libhfshim.so" % (repo, cache, ref))
    return os.path.join(cache, repo, "snapshots", rev)


class Images(Dataset):
    def __init__(self, root):
        classes = json.load(open(os.path.join(root, "labels.json")))["classes"]
        self.items = []
        for label, name in enumerate(classes):
            folder = os.path.join(root, "train", name)
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                self.items.append((entry.path, label))
        self.classes = classes

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        with open(path, "rb") as f:
            raw = f.read()
        img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
        return torch.from_numpy(img).permute(2, 0, 1), label, len(raw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache-dir")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    cache = hub_cache(a.cache_dir)
    if not os.path.isdir(cache):
        sys.exit("train.py: hub cache %s does not exist" % cache)
    data_root, model_root = snapshot(cache, DATASET), snapshot(cache, MODEL)
    torch.manual_seed(0)
    torch.set_num_threads(2)

    dataset = Images(data_root)
    config = json.load(open(os.path.join(model_root, "config.json")))
    model = TinyCNN(config["num_classes"])
    weights = os.path.join(model_root, "pytorch_model.bin")
    model.load_state_dict(torch.load(weights))
    loader = DataLoader(dataset, batch_size=64, shuffle=True, num_workers=a.workers,
                        multiprocessing_context="fork" if a.workers else None)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    files = nbytes = 0
    start = time.perf_counter()
    for epoch in range(a.epochs):
        correct = seen = 0
        total_loss = 0.0
        for x, y, sizes in loader:
            opt.zero_grad()
            out = model(x)
            loss = loss_fn(out, y)
            loss.backward()
            opt.step()
            files += len(y)
            nbytes += int(sizes.sum())
            total_loss += float(loss) * len(y)
            correct += int((out.argmax(1) == y).sum())
            seen += len(y)
        print("epoch %d: loss %.3f accuracy %.3f" % (epoch + 1, total_loss / seen, correct / seen),
              flush=True)
    secs = time.perf_counter() - start
    print("read %d images (%.1f MB) from %s in %.1f s: %.0f images/s; weights %d bytes" % (
        files, nbytes / 1e6, cache, secs, files / secs, os.path.getsize(weights)))
    if correct / seen < 0.5:
        sys.exit("train.py: accuracy %.2f is too low: the data read back is wrong" % (
            correct / seen))


if __name__ == "__main__":
    main()
