#!/usr/bin/env python3
"""Runs the C probes against a hub cache tree: natively, and under LD_PRELOAD=libhfshim.so on the
same tree pushed with hfshim-push into a temporary file:// store and served at an empty prefix.

usage: run_probes.py --lib LIBHFSHIM --push HFSHIM_PUSH PROBE...
Exit status 0 when every probe's native and virtual outputs agree and every check passes.
"""
import argparse
import difflib
import os
import shutil
import subprocess
import sys
import tempfile


def make_tree(root):
    """A small hub cache: one model repo (blobs, refs, snapshot symlinks, a loop) and one
    dataset repo with 300 small files and an empty directory."""
    m = os.path.join(root, "models--org--m")
    sha = "0123456789abcdef0123456789abcdef01234567"
    os.makedirs(os.path.join(m, "blobs"))
    os.makedirs(os.path.join(m, "refs"))
    os.makedirs(os.path.join(m, "snapshots", "rev1", "sub"))
    with open(os.path.join(m, "blobs", sha), "w") as f:
        f.write('{"model_type": "bert"}\n')
    with open(os.path.join(m, "blobs", "big.bin"), "wb") as f:
        f.write(bytes(range(256)) * 9000)  # 2.3 MB
    with open(os.path.join(m, "refs", "main"), "w") as f:
        f.write("rev1")
    os.symlink("../../blobs/" + sha, os.path.join(m, "snapshots", "rev1", "config.json"))
    os.symlink("../../../blobs/big.bin", os.path.join(m, "snapshots", "rev1", "sub", "model.bin"))
    os.symlink("loop", os.path.join(m, "snapshots", "rev1", "loop"))
    os.chmod(os.path.join(m, "refs", "main"), 0o600)
    d = os.path.join(root, "datasets--org--d")
    os.makedirs(os.path.join(d, "data"))
    os.makedirs(os.path.join(d, "empty"))
    for i in range(300):
        with open(os.path.join(d, "data", "f%04d.txt" % i), "w") as f:
            f.write("row %d\n" % i * (i % 7 + 1))
    with open(os.path.join(d, "run.sh"), "w") as f:
        f.write("#!/bin/sh\necho hi\n")
    os.chmod(os.path.join(d, "run.sh"), 0o755)
    # Directory mtimes last, after their contents.
    for dirpath, _, _ in os.walk(root, topdown=False):
        os.utime(dirpath, ns=(1700000000000000000, 1700000000000000000), follow_symlinks=False)


def run(cmd, env=None):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--push", required=True)
    ap.add_argument("probes", nargs="+")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hfshim-probes-")
    ok = True
    try:
        native = os.path.join(tmp, "native", "hub")
        make_tree(native)
        store = "file://" + os.path.join(tmp, "store")
        os.makedirs(os.path.join(tmp, "store"))
        env = dict(os.environ)
        env.update({"HFSHIM_STORE": store, "HFSHIM_CACHE_DIR": os.path.join(tmp, "cache"),
                    "HFSHIM_REFRESH": "0", "HFSHIM_STATS": "0",
                    "XDG_RUNTIME_DIR": os.path.join(tmp, "run")})
        os.makedirs(os.path.join(tmp, "run"), mode=0o700)
        rc, out, err = run([args.push, "--store", store, native], env)
        if rc != 0:
            print("hfshim-push failed:", out, err)
            return 1
        prefix = os.path.join(tmp, "virtual", "hub")
        venv = dict(env)
        venv.update({"HFSHIM_PREFIX": prefix, "LD_PRELOAD": os.path.abspath(args.lib)})
        for probe in args.probes:
            name = os.path.basename(probe)
            for mode in ("tree", "errors"):
                rc_n, out_n, err_n = run([probe, mode, native])
                rc_v, out_v, err_v = run([probe, mode, prefix], venv)
                if rc_n != 0 or rc_v != 0 or out_n != out_v:
                    ok = False
                    print("== %s %s: native rc=%d, virtual rc=%d" % (name, mode, rc_n, rc_v))
                    sys.stdout.writelines(difflib.unified_diff(
                        out_n.splitlines(True), out_v.splitlines(True), "native", "virtual"))
                    print(err_n, err_v)
                else:
                    print("ok %s %s (%d lines)" % (name, mode, len(out_n.splitlines())))
            rc_v, out_v, err_v = run([probe, "checks", prefix], venv)
            if rc_v != 0:
                ok = False
                print("== %s checks rc=%d\n%s%s" % (name, rc_v, out_v, err_v))
            else:
                print("ok %s checks" % name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
