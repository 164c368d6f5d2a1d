#!/usr/bin/env python3
"""What a process's first open under the prefix costs on a node with an empty cache, with the
node's generation check due and not due, over s3rver on loopback.

  /usr/bin/python3 bench/first_open.py [--install PREFIX] [--pairs 6] [--files 10]

A process on a node with an empty cache downloads the newest index generation before its first
answer (its size grows with the dataset: ~17 MB for --files 20000). A process started more than
HFSHIM_REFRESH seconds after the node last asked the store for its newest generation asks
before its first answer (README, "How it works"): it loads libcurl and lists the heads (and
reads the newest one if the node has not read it before). This pushes a hub of --files small
files to s3rver, then runs rounds of three fresh Python processes that open one cached file:
the first with the node cache emptied, the second after making the node's record of its last
check an hour old (check due), the third right after it (not due), and prints the milliseconds
to the first open of each.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from macro import dataset, servers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRST_OPEN = """import glob, sys, time
start = time.perf_counter()
path = glob.glob(sys.argv[1] + '/datasets--*/snapshots/*')[0] + '/train/000/000000.jpg'
with open(path, 'rb') as f:
    f.read(1)
print('%.2f' % ((time.perf_counter() - start) * 1000))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--install", default=os.path.join(ROOT, "build", "install"),
                    help="cmake --install prefix (lib/libhfshim.so, bin/hfshim-push)")
    ap.add_argument("--pairs", type=int, default=6, help="rounds of the three processes")
    ap.add_argument("--files", type=int, default=10, help="small files in the pushed hub")
    args = ap.parse_args()
    lib = os.path.join(args.install, "lib", "libhfshim.so")
    push = os.path.join(args.install, "bin", "hfshim-push")
    tmp = tempfile.mkdtemp(prefix="hfshim-first-open-")
    s3 = servers.S3rver(tmp)
    try:
        hub = os.path.join(tmp, "hub")
        dataset.make_hub_cache(hub, files=args.files, model_mb=1)
        env = dict(os.environ)
        env.update(s3.env())
        url = "s3://%s/first-open" % servers.BUCKET
        subprocess.run([push, "--store", url, hub], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        prefix = os.path.join(tmp, "prefix")
        os.makedirs(prefix)
        cache = os.path.join(tmp, "cache")
        env.update({"LD_PRELOAD": lib, "HFSHIM_STORE": url, "HFSHIM_CACHE_DIR": cache,
                    "HFSHIM_PREFIX": prefix})

        def first_open():
            out = subprocess.run([sys.executable, "-c", FIRST_OPEN, prefix], env=env,
                                 check=True, capture_output=True, text=True)
            return float(out.stdout)

        last = os.path.join(cache, "index", "last")  # the node's record of its last check
        print("first open, ms: empty node cache / check due / not due")
        for _ in range(args.pairs):
            shutil.rmtree(cache, ignore_errors=True)
            empty = first_open()  # fills the node cache and records the check
            hour_ago = time.time() - 3600
            os.utime(last, (hour_ago, hour_ago))
            due = first_open()
            print("%8.2f / %6.2f / %6.2f" % (empty, due, first_open()))
    finally:
        s3.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
