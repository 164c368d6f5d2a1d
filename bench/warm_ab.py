"""A/B of warm small-file reads: native disk and builds alternated round by round in one run.

  /usr/bin/python3 bench/warm_ab.py --install A [--install B ...] [--files 20000] [--rounds 12]
      [--threads 1] [--op read_small] [--workdir DIR]

Each --install is a `cmake --install` prefix, pushed into a file:// store of its own with its own
hfshim-push (macro/ab.py); the page cache is dropped, then every configuration reads the dataset
once (native from disk, each build filling its own empty node cache), so every round is warm. Per round, `probe.py OP` (read_small: open+read+
close of every file, shuffled; read_dir: in path order; stat) runs natively on the hub cache,
then under each build on its empty prefix. Prints per configuration the median seconds of the
work, files/s, the ratio to native, and the mean user and system CPU seconds of the probe
process (start-up included, the same for all).

The figure that decides a change to the warm open path: one process, one pass, each path asked
for once, which is what a DataLoader worker does with a shuffled dataset. Interleaving rounds
puts the machine's drift into every configuration alike (bench/README.md).
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
from macro import ab, servers  # noqa: E402

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "macro", "probe.py")


def run_probe(op, root, manifest, threads, env):
    """(seconds of the work, user CPU s, system CPU s) of one probe process."""
    before = os.times()
    out = subprocess.run([sys.executable, PROBE, op, root, manifest, str(threads)], env=env,
                         capture_output=True, text=True)
    after = os.times()
    if out.returncode != 0:
        sys.exit("probe failed: " + out.stderr[-2000:])
    return (json.loads(out.stdout)["seconds"], after.children_user - before.children_user,
            after.children_system - before.children_system)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--install", action="append", required=True, help="an install prefix")
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--op", default="read_small", choices=("read_small", "read_dir", "stat"))
    ap.add_argument("--workdir", help="keep the dataset here (default: a temp dir, removed)")
    args = ap.parse_args()

    work = args.workdir or tempfile.mkdtemp(prefix="hfshim-warm-ab-")
    os.makedirs(work, exist_ok=True)
    hub, manifest = ab.make_dataset(work, args.files)
    env = dict(os.environ)
    try:
        stores = ab.push_each(args.install, hub, work, env)
        configs = [("native", hub, env)]
        for k, (install, store) in enumerate(zip(args.install, stores)):
            prefix = os.path.join(work, "prefix%d" % k)
            os.makedirs(prefix, exist_ok=True)
            e = ab.shim_env(env, install, store, os.path.join(work, "cache%d" % k), prefix)
            configs.append((install, prefix, e))
        # As compare.py's warm rows follow its cold ones: native files read back from disk, the
        # node caches filled by a first pass (index fetched, content written), all then warm.
        servers.drop_page_cache()
        for _, root, e in configs:
            run_probe("read_small", root, manifest, 1, e)
        results = {name: [] for name, _, _ in configs}
        for _ in range(args.rounds):
            for name, root, e in configs:
                results[name].append(run_probe(args.op, root, manifest, args.threads, e))
        native = statistics.median(r[0] for r in results["native"])
        print("%s, %d files, %d thread(s), %d rounds, median; cpu = mean of the probe process"
              % (args.op, args.files, args.threads, args.rounds))
        for name, rs in results.items():
            secs = statistics.median(r[0] for r in rs)
            print("%-32s %7.4f s  %9.0f files/s  x native %.3f  user %.3f s  sys %.3f s" % (
                name, secs, args.files / secs, native / secs,
                statistics.mean(r[1] for r in rs), statistics.mean(r[2] for r in rs)))
            print("    rounds: " + " ".join("%.3f" % r[0] for r in rs))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
