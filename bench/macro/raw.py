"""The ceiling: reading a store's objects directly, in parallel, with no file system at all.

file:// stores are read with 8 threads of plain reads; S3 stores with 8 parallel `curl
--aws-sigv4` GETs of whole objects. Returns {"seconds", "bytes", "objects"}.
"""

import os
import subprocess
import threading
import time

THREADS = 8


def _parallel(items, fn):
    lock = threading.Lock()
    pending = list(items)
    total = [0]

    def work():
        while True:
            with lock:
                if not pending:
                    return
                item = pending.pop()
            n = fn(item)
            with lock:
                total[0] += n

    ts = [threading.Thread(target=work) for _ in range(THREADS)]
    start = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - start, total[0]


def read_file_store(store_dir):
    objs = [os.path.join(d, f) for sub in ("packs", "data")
            for d, _, fs in os.walk(os.path.join(store_dir, sub)) for f in fs]

    def read(path):
        n = 0
        with open(path, "rb", buffering=0) as f:
            while True:
                b = f.read(8 << 20)
                if not b:
                    return n
                n += len(b)

    secs, nbytes = _parallel(objs, read)
    return {"seconds": secs, "bytes": nbytes, "objects": len(objs)}


def read_s3_store(s3, bucket, prefix, data_dir):
    """GETs every packs/ and data/ object of s3rver's bucket (object list from its data dir)."""
    root = os.path.join(data_dir, bucket, prefix)
    keys = []
    for sub in ("packs", "data"):
        base = os.path.join(root, sub)
        for d, _, fs in os.walk(base):
            for f in fs:
                if f.endswith("._S3rver_object"):
                    rel = os.path.relpath(os.path.join(d, f[:-len("._S3rver_object")]), root)
                    keys.append(prefix + "/" + rel)

    def get(key):
        out = subprocess.run(
            ["curl", "-sf", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "S3RVER:S3RVER",
             "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
             "-o", "/dev/null", "-w", "%{size_download}",
             "%s/%s/%s" % (s3.endpoint, bucket, key)], capture_output=True, text=True)
        return int(out.stdout or 0)

    secs, nbytes = _parallel(keys, get)
    return {"seconds": secs, "bytes": nbytes, "objects": len(keys)}
