#!/usr/bin/env python3
"""What libhfshim adds to libc calls outside the prefix, averaged over several code layouts.

  /usr/bin/python3 bench/passthrough_layouts.py [--rev OLD] [--rev NEW] [--layouts 6] [--rounds 4]

A passthrough call costs the shim ~10-30 ns, and where the linker happens to put the shim's hot
code moves that by as much (branch predictor and cache aliasing after the system call: a change
to stat.cc once moved failing opens by 30 ns). One build therefore says little about a change.
This builds libhfshim.so of each revision (a git revision, or WORKTREE for the working tree) with
--layouts different paddings before its hot code (HFSHIM_HOT_PAD), runs bench/passthrough_loop.c
without and with each library in shuffled order, --rounds times, and prints per call the median
added cost of every layout and their mean, per revision. Builds go to a temporary directory.
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPS = {"stat": 1500000, "statmiss": 2000000, "openmiss": 1200000, "openclose": 600000}
PAD_STEP = 704  # 11 cache lines: successive layouts fall on different cache sets and pages


def run(cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def source_tree(rev, tmp):
    """A checkout of `rev` (the working tree itself for WORKTREE)."""
    if rev == "WORKTREE":
        return ROOT
    src = os.path.join(tmp, "src-" + rev.replace("/", "_"))
    run(["git", "-C", ROOT, "worktree", "add", "--detach", "-f", src, rev],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return src


def build_layouts(rev, tmp, layouts):
    """libhfshim.so of `rev` for each padding: a list of paths."""
    src = source_tree(rev, tmp)
    build = os.path.join(tmp, "build-" + rev.replace("/", "_"))
    hot_start = os.path.join(src, "shim", "hot_start.cc")
    with open(hot_start) as f:
        original = f.read()
    libs = []
    for k in range(layouts):
        if "HFSHIM_HOT_PAD" not in original and src != ROOT:
            # A revision from before the knob: the padding written into its checkout.
            with open(hot_start, "w") as f:
                f.write(original + '__asm__(".section .text.hot.hfshim_start,\\"ax\\",@progbits\\n"'
                        f'".fill {k * PAD_STEP}, 1, 0x90\\n.previous\\n");\n')
        run(["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
             "-DHFSHIM_BUILD_TESTS=OFF", "-DHFSHIM_BUILD_BENCHMARKS=OFF",
             f"-DHFSHIM_HOT_PAD={k * PAD_STEP}"], stdout=subprocess.DEVNULL)
        run(["cmake", "--build", build, "-j2", "--target", "hfshim"], stdout=subprocess.DEVNULL)
        lib = os.path.join(tmp, f"lib-{rev.replace('/', '_')}-{k}.so")
        shutil.copy(os.path.join(build, "shim", "libhfshim.so"), lib)
        libs.append(lib)
        print(f"built {rev} layout {k}", file=sys.stderr)
    return src, libs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rev", action="append",
                    help="git revision to measure, or WORKTREE (default: HEAD and WORKTREE)")
    ap.add_argument("--layouts", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    revs = args.rev or ["HEAD", "WORKTREE"]
    tmp = tempfile.mkdtemp(prefix="hfshim-layouts-")
    worktrees = []
    try:
        loop = os.path.join(tmp, "passthrough_loop")
        run(["cc", "-O2", "-o", loop, os.path.join(ROOT, "bench", "passthrough_loop.c")])
        libs = {}
        for rev in revs:
            src, libs[rev] = build_layouts(rev, tmp, args.layouts)
            if src != ROOT:
                worktrees.append(src)
        candidates = ["none"] + [lib for rev in revs for lib in libs[rev]]
        times = {}
        for _ in range(args.rounds):
            for op, n in OPS.items():
                order = candidates[:]
                random.shuffle(order)
                for lib in order:
                    env = dict(os.environ, HFSHIM_PREFIX="/nonexistent/hfshim-bench-prefix")
                    env.pop("LD_PRELOAD", None)
                    if lib != "none":
                        env["LD_PRELOAD"] = lib
                    start = time.perf_counter_ns()
                    run([loop, op, str(n)], env=env)
                    times.setdefault((op, lib), []).append((time.perf_counter_ns() - start) / n)
        print(f"ns per call added by the shim (median of {args.rounds} runs, minus libc's), "
              f"{args.layouts} layouts")
        for op in OPS:
            base = statistics.median(times[(op, "none")])
            print(f"{op:10s} libc {base:5.0f} ns")
            for rev in revs:
                added = [statistics.median(times[(op, lib)]) - base for lib in libs[rev]]
                print(f"  {rev:12s} mean {statistics.mean(added):+6.1f}   layouts "
                      + " ".join(f"{a:+4.0f}" for a in added))
    finally:
        for src in worktrees:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", src],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
