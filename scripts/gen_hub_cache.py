#!/usr/bin/env python3
"""Generates a synthetic Hugging Face hub cache in the exact huggingface_hub layout.

  gen_hub_cache.py DIR [--files N] [--large-mb M] [--seed S]

DIR gets:
  models--hfshim--tiny-model   two revisions sharing blobs; refs/main, refs/pr/1; a large
                               weights file (--large-mb, 0 = none); .no_exist markers
  models--solo                 a model without an org, git-style (sha1) blob names
  datasets--hfshim--small      N small files (--files) in nested dirs, names with spaces and
                               accents, some duplicates of one another and an empty file
Blob names are the sha256 of the content (LFS-style) or its git sha1, as on the hub; snapshot
entries are relative symlinks into blobs/. The same seed always gives the same tree, mtimes
included. Only the standard library is used.
"""

import argparse
import hashlib
import os
import random

MTIME = 1_700_000_000


def rev(name):
    return hashlib.sha1(name.encode()).hexdigest()


class Repo:
    def __init__(self, root, dirname):
        self.dir = os.path.join(root, dirname)
        for sub in ("blobs", "refs", "snapshots"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)

    def add(self, revision, rel, data, git_style=False):
        if git_style:
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        else:
            blob = hashlib.sha256(data).hexdigest()
        path = os.path.join(self.dir, "blobs", blob)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            os.utime(path, (MTIME, MTIME))
        link = os.path.join(self.dir, "snapshots", revision, rel)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink("../" * (rel.count("/") + 2) + "blobs/" + blob, link)

    def ref(self, name, revision):
        path = os.path.join(self.dir, "refs", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(revision)

    def no_exist(self, revision, rel):
        path = os.path.join(self.dir, ".no_exist", revision, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "wb").close()


def generate(root, files, large_mb, seed):
    rng = random.Random(seed)
    os.makedirs(root, exist_ok=True)
    # A model with two revisions that share most blobs.
    m = Repo(root, "models--hfshim--tiny-model")
    r1, r2 = rev("tiny-model-1"), rev("tiny-model-2")
    config = b'{"architectures": ["Tiny"], "hidden_size": 64}\n'
    tokenizer = rng.randbytes(300_000)
    for r in (r1, r2):
        m.add(r, "config.json", config)
        m.add(r, "tokenizer.json", tokenizer)
    m.add(r1, "README.md", b"# tiny model\nrevision one\n", git_style=True)
    m.add(r2, "README.md", b"# tiny model\nrevision two\n", git_style=True)
    m.add(r2, "weights/extra layer.bin", rng.randbytes(3 << 20))
    if large_mb:
        big = rng.randbytes(large_mb << 20)
        for r in (r1, r2):
            m.add(r, "model.safetensors", big)
    m.ref("main", r2)
    m.ref("pr/1", r1)
    m.no_exist(r2, "generation_config.json")
    m.no_exist(r2, "sub/dir/missing.txt")

    s = Repo(root, "models--solo")
    r3 = rev("solo")
    s.add(r3, "config.json", b"{}\n", git_style=True)
    s.add(r3, "empty.txt", b"", git_style=True)
    s.ref("main", r3)

    d = Repo(root, "datasets--hfshim--small")
    r4 = rev("small-dataset")
    names = ["caf\u00e9", "na\u00efve dir", "plain", "\u00fcber"]
    for i in range(files):
        size = int(rng.lognormvariate(7.5, 1.0)) % 200_000
        data = rng.randbytes(size) if i % 50 else b"duplicate content\n"
        d.add(r4, "data/%s/%03d/item %05d.bin" % (names[i % 4], i // 400, i), data)
    d.add(r4, "data/empty.bin", b"")
    d.add(r4, "README.md", b"dataset card\n")
    d.ref("main", r4)
    # Directory and link mtimes are part of the exact tree: make them deterministic too.
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            p = os.path.join(dirpath, name)
            os.utime(p, (MTIME, MTIME), follow_symlinks=False)
        os.utime(dirpath, (MTIME, MTIME))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--files", type=int, default=2000, help="small files in the dataset")
    ap.add_argument("--large-mb", type=int, default=0, help="size of the large weights file")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    generate(a.dir, a.files, a.large_mb, a.seed)


if __name__ == "__main__":
    main()
