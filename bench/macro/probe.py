"""One benchmark probe, run in its own process (so LD_PRELOAD applies to it alone).

  probe.py OP ROOT MANIFEST [THREADS]
OP: read_small | read_dir | stat | walk | seq_read | mmap | dataloader (read_dir: read_small in
the manifest's order, not shuffled). ROOT is the hub cache to read,
MANIFEST a file of relative paths (small files, one per line; or the model file for seq_read and
mmap). Prints one JSON object: {"seconds": s, "items": n, "bytes": b}. The clock covers the work
only, not interpreter start-up.
"""

import json
import mmap
import os
import random
import sys
import threading
import time

CHUNK = 16 << 20


def read_small(paths, threads):
    total = [0] * threads
    errors = []

    def work(k):
        n = 0
        try:
            for p in paths[k::threads]:
                with open(p, "rb") as f:
                    n += len(f.read())
        except OSError as e:  # a failed read must fail the probe, not just its thread
            errors.append(e)
        total[k] = n

    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return len(paths), sum(total)


def stat_all(paths):
    size = 0
    for p in paths:
        size += os.stat(p).st_size
    return len(paths), size


def walk(root):
    n = 0
    for _, dirs, files in os.walk(root):
        n += len(dirs) + len(files)
    return n, 0


def seq_read(path):
    n = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(CHUNK)
            if not b:
                break
            n += len(b)
    return 1, n


def mmap_read(path):
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        n = 0
        for off in range(0, len(m), CHUNK):
            n += len(m[off:off + CHUNK])
        m.close()
    return 1, n


def dataloader(paths):
    import torch
    from torch.utils.data import DataLoader, Dataset

    class Files(Dataset):
        def __len__(self):
            return len(paths)

        def __getitem__(self, i):
            with open(paths[i], "rb") as f:
                return len(f.read())

    loader = DataLoader(Files(), batch_size=64, num_workers=2, shuffle=True,
                        multiprocessing_context="fork")
    n = 0
    for batch in loader:
        n += int(batch.sum())
    return len(paths), n


def main():
    op, root, manifest = sys.argv[1], sys.argv[2], sys.argv[3]
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    with open(manifest) as f:
        rel = [line.rstrip("\n") for line in f if line.strip()]
    paths = [os.path.join(root, r) for r in rel]
    random.Random(7).shuffle(paths)  # a shuffled DataLoader's order, the same in every config
    start = time.perf_counter()
    if op == "read_small":
        items, nbytes = read_small(paths, threads)
    elif op == "read_dir":  # the manifest's order: a job reading one directory of a dataset
        items, nbytes = read_small([os.path.join(root, r) for r in rel], threads)
    elif op == "stat":
        items, nbytes = stat_all(paths)
    elif op == "walk":
        items, nbytes = walk(os.path.join(root, rel[0].split("/")[0]))
    elif op == "seq_read":
        items, nbytes = seq_read(paths[0])
    elif op == "mmap":
        items, nbytes = mmap_read(paths[0])
    elif op == "dataloader":
        items, nbytes = dataloader(paths)
    else:
        sys.exit("unknown probe " + op)
    seconds = time.perf_counter() - start
    # Peak RSS of this program (VmHWM starts afresh at exec, unlike the rusage of a forked child).
    hwm = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    print(json.dumps({"seconds": seconds, "items": items, "bytes": nbytes, "peak_rss": hwm}))


if __name__ == "__main__":
    main()
