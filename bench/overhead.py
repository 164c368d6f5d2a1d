#!/usr/bin/env python3
"""Cost of hfshim's counters and access profile on the warm small-file probe, in one run.

  /usr/bin/python3 bench/overhead.py [--files 10000] [--rounds 7]

Runs read_small (1 thread, warm node cache and page cache) under the shim with HFSHIM_STATS=0,
with counters on (the default) and with HFSHIM_PROFILE set, interleaving the three so machine
noise hits them alike, and prints the medians and the slowdowns (targets: counters <= 2%,
profiling <= 10%).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from macro import dataset, servers  # noqa: E402

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "macro", "probe.py")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--install", default=os.path.join(servers.REPO, "build", "install"))
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="hfshim-overhead-")
    try:
        src = os.path.join(work, "hub")
        info = dataset.make_hub_cache(src, a.files, 1)
        manifest = os.path.join(work, "small.txt")
        snap = info["dataset_snapshot"]
        with open(manifest, "w") as f:
            for shard in sorted(os.listdir(os.path.join(src, snap, "train"))):
                for leaf in sorted(os.listdir(os.path.join(src, snap, "train", shard))):
                    f.write("%s/train/%s/%s\n" % (snap, shard, leaf))
        store = "file://" + os.path.join(work, "store")
        subprocess.check_call([os.path.join(a.install, "bin", "hfshim-push"), "--store", store,
                               src], stdout=subprocess.DEVNULL)
        prefix = os.path.join(work, "prefix")
        os.makedirs(prefix)
        base = dict(os.environ, LD_PRELOAD=os.path.join(a.install, "lib", "libhfshim.so"),
                    HFSHIM_STORE=store, HFSHIM_PREFIX=prefix,
                    HFSHIM_CACHE_DIR=os.path.join(work, "cache"))
        variants = {
            "counters off": dict(base, HFSHIM_STATS="0"),
            "counters on": dict(base, HFSHIM_STATS="1"),
            "profiling on": dict(base, HFSHIM_STATS="1",
                                 HFSHIM_PROFILE=os.path.join(work, "profile.log")),
        }
        rates = {k: [] for k in variants}
        cmd = ["/usr/bin/python3", PROBE, "read_small", prefix, manifest, "1"]
        subprocess.check_call(cmd, env=variants["counters off"], stdout=subprocess.DEVNULL)
        for _ in range(a.rounds):
            for name, env in variants.items():
                out = json.loads(subprocess.check_output(cmd, env=env))
                rates[name].append(out["items"] / out["seconds"])
        base_rate = statistics.median(rates["counters off"])
        print("warm read_small, %d files, median of %d interleaved rounds" % (a.files, a.rounds))
        for name, r in rates.items():
            m = statistics.median(r)
            print("%-14s %10.0f files/s  (spread %.0f-%.0f)  slowdown %+.1f%%" % (
                name, m, min(r), max(r), 100.0 * (base_rate - m) / base_rate))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
