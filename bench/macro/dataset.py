"""Deterministic benchmark data in the Hugging Face hub cache layout.

make_hub_cache(root, files, model_mb, seed) writes:
  datasets--bench--images: `files` small files with JPEG-like sizes (log-normal, median ~15 KB,
    long tail capped at 200 KB) under snapshots/<rev>/train/<shard>/<n>.jpg -> ../../../../blobs/<sha>
  models--bench--model: model.safetensors of `model_mb` MiB plus config.json / tokenizer.json.
The same seed always gives the same bytes, so runs on different days compare like with like.
"""

import hashlib
import math
import os
import random

REV_DATASET = "d" * 8 + hashlib.sha1(b"bench-dataset").hexdigest()[8:]
REV_MODEL = "e" * 8 + hashlib.sha1(b"bench-model").hexdigest()[8:]
DATASET_REPO = "datasets--bench--images"
MODEL_REPO = "models--bench--model"


def _jpeg_like_size(rng):
    # log-normal around 15 KB; sigma chosen so ~1% exceed 100 KB; capped at 200 KB
    size = int(math.exp(rng.gauss(math.log(15000), 0.75)))
    return max(512, min(size, 200_000))


def _add_file(repo_dir, rev, rel_path, data, mtime):
    sha = hashlib.sha256(data).hexdigest()
    blob = os.path.join(repo_dir, "blobs", sha)
    if not os.path.exists(blob):
        with open(blob, "wb") as f:
            f.write(data)
        os.utime(blob, (mtime, mtime))
    link = os.path.join(repo_dir, "snapshots", rev, rel_path)
    os.makedirs(os.path.dirname(link), exist_ok=True)
    depth = rel_path.count("/") + 2
    os.symlink("../" * depth + "blobs/" + sha, link)


def _init_repo(root, repo, rev):
    repo_dir = os.path.join(root, repo)
    os.makedirs(os.path.join(repo_dir, "blobs"), exist_ok=True)
    os.makedirs(os.path.join(repo_dir, "refs"), exist_ok=True)
    os.makedirs(os.path.join(repo_dir, "snapshots", rev), exist_ok=True)
    with open(os.path.join(repo_dir, "refs", "main"), "w") as f:
        f.write(rev)
    return repo_dir


def make_hub_cache(root, files=20000, model_mb=1024, seed=1234):
    """Creates the hub cache at `root` (must not exist). Returns a dict describing it."""
    rng = random.Random(seed)
    os.makedirs(root)
    mtime = 1_700_000_000
    ds = _init_repo(root, DATASET_REPO, REV_DATASET)
    total = 0
    for i in range(files):
        size = _jpeg_like_size(rng)
        # a JPEG SOI marker, then seeded bytes: realistic sizes, incompressible content
        data = b"\xff\xd8\xff\xe0" + rng.randbytes(size - 4)
        _add_file(ds, REV_DATASET, "train/%03d/%06d.jpg" % (i // 1000, i), data, mtime)
        total += size
    md = _init_repo(root, MODEL_REPO, REV_MODEL)
    _add_file(md, REV_MODEL, "config.json", b'{"hidden_size": 1024, "layers": 24}\n', mtime)
    _add_file(md, REV_MODEL, "tokenizer.json", rng.randbytes(200_000), mtime)
    chunk = 64 << 20
    model_path = os.path.join(root, "model.tmp")
    h = hashlib.sha256()
    with open(model_path, "wb") as f:
        left = model_mb << 20
        while left > 0:
            part = rng.randbytes(min(chunk, left))
            h.update(part)
            f.write(part)
            left -= len(part)
    sha = h.hexdigest()
    os.rename(model_path, os.path.join(md, "blobs", sha))
    os.symlink("../../blobs/" + sha, os.path.join(md, "snapshots", REV_MODEL, "model.safetensors"))
    return {
        "small_files": files,
        "small_bytes": total,
        "model_bytes": model_mb << 20,
        "dataset_snapshot": os.path.join(DATASET_REPO, "snapshots", REV_DATASET),
        "model_file": os.path.join(MODEL_REPO, "snapshots", REV_MODEL, "model.safetensors"),
    }
