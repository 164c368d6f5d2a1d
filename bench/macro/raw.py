"""The ceiling: reading a store's objects directly, in parallel, with no file system at all.

file:// stores are read with 8 threads of plain reads; S3 stores with 8 parallel `curl
--aws-sigv4` GETs. Objects larger than CHUNK are read as ranges of CHUNK bytes spread over the
threads (parallel ranged GETs of one large object), smaller ones whole.
Returns {"seconds", "bytes", "objects"}.
"""

import os
import subprocess
import threading
import time

THREADS = 8
# The size of hfshim's bulk GETs (kMaxRunBytes, core/cache/lazy_content.cc), so both sides make
# the same requests: s3rver's cost per request is large (8 MiB ranges: ~790 MB/s here, 32 MiB:
# ~1,030 MB/s). AWS_CLI_CHUNK is what `aws s3 cp` uses (multipart_chunksize), for a second row.
CHUNK = 32 << 20
AWS_CLI_CHUNK = 8 << 20


def _ranges(name, size, chunk=CHUNK):
    """(name, offset, length) items covering an object of `size` bytes."""
    if size <= chunk:
        return [(name, 0, size)]
    return [(name, off, min(chunk, size - off)) for off in range(0, size, chunk)]


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


def read_file_store(store_dir, subdirs=("packs", "data")):
    objs = [os.path.join(d, f) for sub in subdirs
            for d, _, fs in os.walk(os.path.join(store_dir, sub)) for f in fs]
    items = [r for p in objs for r in _ranges(p, os.path.getsize(p))]

    def read(item):
        path, off, length = item
        with open(path, "rb", buffering=0) as f:
            return len(os.pread(f.fileno(), length, off))

    secs, nbytes = _parallel(items, read)
    return {"seconds": secs, "bytes": nbytes, "objects": len(objs)}


def read_s3_store(s3, bucket, prefix, data_dir, subdirs=("packs", "data"), chunk=CHUNK,
                  to_dir=None, graves=None):
    """GETs every packs/ and data/ object of s3rver's bucket (object list from its data dir).

    With `to_dir`, each GET's body is written to its own file there (what a download does: the
    bytes end in the page cache, as hfshim's fills do), removed after the timing; else to
    /dev/null. The downloads are set aside in `graves` (a macro.graves.Graves, deleted by the
    caller after the measuring) or else deleted after the timing."""
    root = os.path.join(data_dir, bucket, prefix)
    keys = []
    items = []
    for sub in subdirs:
        base = os.path.join(root, sub)
        for d, _, fs in os.walk(base):
            for f in fs:
                if f.endswith("._S3rver_object"):
                    path = os.path.join(d, f)
                    rel = os.path.relpath(path[:-len("._S3rver_object")], root)
                    keys.append(prefix + "/" + rel)
                    items += _ranges(keys[-1], os.path.getsize(path), chunk)

    number = {item: i for i, item in enumerate(items)}  # names the download of each GET

    def curl_args(item):
        key, off, length = item
        out = "/dev/null" if to_dir is None else os.path.join(to_dir, "%d" % number[item])
        return ["-sf", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "S3RVER:S3RVER",
                "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                "-H", "Range: bytes=%d-%d" % (off, off + length - 1),
                "-o", out, "-w", "%{size_download}\\n",
                "%s/%s/%s" % (s3.endpoint, bucket, key)]

    # One curl process per thread, its GETs chained with --next on one kept-alive connection
    # (a process per GET would cost more than the transfer of a small object).
    groups = [items[i::THREADS] for i in range(THREADS)]

    def get_group(group):
        if not group:
            return 0
        cmd = ["curl"]
        for i, item in enumerate(group):
            cmd += (["--next"] if i else []) + curl_args(item)
        out = subprocess.run(cmd, capture_output=True, text=True)
        return sum(int(n) for n in out.stdout.split() if n.isdigit())

    if to_dir is not None:
        os.makedirs(to_dir, exist_ok=True)
    secs, nbytes = _parallel(groups, get_group)
    if to_dir is not None and graves is not None:
        graves.set_aside(to_dir)
    elif to_dir is not None:
        for name in os.listdir(to_dir):
            os.unlink(os.path.join(to_dir, name))
    return {"seconds": secs, "bytes": nbytes, "objects": len(keys)}
