"""A/B of cold small-file reads: builds (or pushes) alternated round by round in one run.

  /usr/bin/python3 bench/cold_ab.py --install A --install B [--files 20000] [--rounds 5]
      [--first N] [--s3rver] [--workdir DIR]

Each --install is a `cmake --install` prefix. The dataset (bench/macro/dataset.py) is pushed into
a store once per build with that build's hfshim-push (file:// by default, or one s3rver with a
prefix per build), so builds that pack differently each read their own packs. Per round and build:
a fresh node cache, the page cache dropped, then `probe.py read_small` (one thread, shuffled) over
the whole dataset, or over its first N files in path order with --first N (one directory of a
dataset, read in order). Prints files/s, the probe's CPU seconds, the node cache's size after the
read and, with --s3rver, the store server's CPU seconds.

Old node caches are set aside and removed at the end (macro/graves.py: deleting right before a
measured run slows it on this machine).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from macro import ab, servers  # noqa: E402
from macro.graves import Graves  # noqa: E402

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "macro", "probe.py")


def du_mb(path):
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_blocks * 512
            except OSError:
                pass
    return total / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--install", action="append", required=True, help="an install prefix")
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--first", type=int, default=0, help="read only the first N files, in order")
    ap.add_argument("--s3rver", action="store_true", help="stores in one s3rver, not file://")
    ap.add_argument("--workdir", help="keep the dataset here (default: a temp dir, removed)")
    args = ap.parse_args()

    work = args.workdir or tempfile.mkdtemp(prefix="hfshim-cold-ab-")
    os.makedirs(work, exist_ok=True)
    hub, manifest = ab.make_dataset(work, args.files, args.first)
    prefix = os.path.join(work, "prefix")
    os.makedirs(prefix, exist_ok=True)
    graves = Graves()
    s3 = servers.S3rver(work) if args.s3rver else None
    env = dict(os.environ)
    if s3:
        env.update(s3.env())
    try:
        stores = ab.push_each(args.install, hub, work, env, s3)
        for _ in range(args.rounds):
            for install, url in zip(args.install, stores):
                cache = os.path.join(work, "cache")
                graves.set_aside(cache)
                servers.drop_page_cache()
                e = ab.shim_env(env, install, url, cache, prefix)
                server_cpu = s3.usage()[0] if s3 else 0.0
                op = "read_dir" if args.first else "read_small"  # read_dir: in path order
                cmd = [sys.executable, PROBE, op, prefix, manifest, "1"]
                before = os.times()
                out = subprocess.run(cmd, env=e, capture_output=True, text=True)
                after = os.times()
                if out.returncode != 0:
                    print("%s failed: %s" % (install, out.stderr[-500:]), flush=True)
                    continue
                r = json.loads(out.stdout)
                cpu = (after.children_user - before.children_user +
                       after.children_system - before.children_system)
                line = "%-28s %9.0f files/s  cpu %.2f s  cache %5.0f MB" % (
                    install, r["items"] / r["seconds"], cpu, du_mb(cache))
                if s3:
                    line += "  store cpu %.2f s" % (s3.usage()[0] - server_cpu)
                print(line, flush=True)
    finally:
        if s3:
            s3.stop()
        graves.bury()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
