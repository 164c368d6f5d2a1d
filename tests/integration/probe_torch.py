"""Reads a tree through torch and numpy the way training jobs do; prints stable results.
Run natively and under LD_PRELOAD: the outputs must match."""

import hashlib
import os
import sys

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


class Files(Dataset):
    def __init__(self, files):
        self.files = files

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        with open(self.files[i], "rb") as f:
            return int.from_bytes(hashlib.sha256(f.read()).digest()[:6], "little")


def main():
    root = sys.argv[1]
    snap = os.path.join(root, "datasets--hfshim--small", "snapshots")
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(snap) for f in fs)
    for ctx in ("fork", "spawn", "forkserver"):
        loader = DataLoader(Files(files), batch_size=32, num_workers=2,
                            multiprocessing_context=ctx)
        print(ctx, len(files), sum(int(b.sum()) for b in loader))
    models = os.path.join(root, "models--hfshim--tiny-model", "snapshots")
    rev = sorted(os.listdir(models))[-1]
    arr = np.memmap(os.path.join(models, rev, "model.safetensors"), dtype=np.uint8, mode="r")
    print("memmap", arr.shape, int(arr[::4096].astype(np.int64).sum()))
    state = torch.load(os.path.join(root, "models--ckpt", "snapshots", "r", "ckpt.pt"))
    print("torch.load", sorted(state), float(state["w"].sum()))


if __name__ == "__main__":
    main()
