#!/usr/bin/env python3
"""Runs the C probes against a hub cache tree: natively, and under LD_PRELOAD=libhfshim.so on the
same tree pushed with hfshim-push into a temporary file:// store and served at an empty prefix.

usage: run_probes.py --lib LIBHFSHIM --push HFSHIM_PUSH --counting-preload LIB
                     --signal-probe SIGNAL_PROBE --symver-probe SYMVER_PROBE PROBE...
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
    # A shared library shipped in a repo (dlopen'ed by the checks).
    shutil.copyfile("/usr/lib/x86_64-linux-gnu/libz.so.1", os.path.join(m, "blobs", "libz"))
    os.symlink("../../blobs/libz", os.path.join(m, "snapshots", "rev1", "libz.so"))
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


JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"

PY_SERVER = r"""
import os, sys
for line in sys.stdin:
    op, path = line.split(maxsplit=1)
    path = path.strip()
    if op == "exists":
        print(os.path.exists(path), flush=True)
    elif op == "read":
        with open(path) as f:
            print(f.read().strip(), flush=True)
"""


def check_inert(prefix, venv):
    """No index in the store: the shim passes everything through, creates nothing wrong and
    says so once on stderr."""
    code = "import os; p=%r; os.makedirs(p, exist_ok=True); print(sorted(os.listdir(p)))" % prefix
    p = subprocess.run([sys.executable, "-c", code], env=venv, capture_output=True, text=True,
                       timeout=120)
    good = p.returncode == 0 and p.stdout.strip() == "[]"
    print("%s inert store (%s)" % ("ok" if good else "FAIL", p.stderr.strip()))
    return good


def check_refresh(push, store, native, prefix, env, venv):
    """A long-running process picks up a newer generation (HFSHIM_REFRESH=0: on the next hit)."""
    server = subprocess.Popen([sys.executable, "-c", PY_SERVER], env=venv, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    new_ref = os.path.join(prefix, "models--org--later", "refs", "main")

    def ask(op, path):
        server.stdin.write("%s %s\n" % (op, path))
        server.stdin.flush()
        return server.stdout.readline().strip()

    try:
        before = ask("exists", new_ref)
        os.makedirs(os.path.join(native, "models--org--later", "refs"))
        with open(os.path.join(native, "models--org--later", "refs", "main"), "w") as f:
            f.write("later")
        rc, out, err = run([push, "--store", store, "--repo", "org/later", native], env)
        after = ask("exists", new_ref)
        content = ask("read", new_ref) if after == "True" else ""
        old = ask("exists", os.path.join(prefix, "models--org--m", "refs", "main"))
    finally:
        server.stdin.close()
        server.wait(timeout=60)
    good = rc == 0 and before == "False" and after == "True" and content == "later" and old == "True"
    print("%s refresh: before=%s after=%s content=%r old repo=%s %s" %
          ("ok" if good else "FAIL", before, after, content, old, err.strip()))
    return good


def check_chained_preload(counting, prefix, venv):
    """A library preloaded after the shim that wraps open/close/stat sees the calls the shim
    passes through (the shim makes system calls itself only when glibc is next in line), and
    without it the same program runs the same."""
    target = os.path.realpath(__file__)
    code = ("import os; fd = os.open(%r, os.O_RDONLY); os.read(fd, 1); os.close(fd); os.stat(%r); "
            "print(os.path.exists(%r))" % (target, target, os.path.join(prefix, "nope")))
    env = dict(venv, LD_PRELOAD=venv["LD_PRELOAD"] + " " + os.path.abspath(counting))
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=120)
    counts = {}
    for line in p.stderr.splitlines():
        if line.startswith("counting_preload:"):
            counts = dict(kv.split("=") for kv in line.split()[1:])
    good = (p.returncode == 0 and p.stdout.strip() == "False" and
            all(int(counts.get(k, 0)) >= 1 for k in ("openat", "close", "read")) and
            int(counts.get("fstatat", 0)) + int(counts.get("statx", 0)) >= 1)
    print("%s chained preload sees passthrough calls: %s %s" %
          ("ok" if good else "FAIL", counts, p.stderr.strip() if not good else ""))
    return good


def check_signal_handler(probe, prefix, venv):
    """A SIGALRM handler stats virtual paths every 200 us while four threads open, read and
    close virtual files: no deadlock (the run ends), no wrong bytes, no wrong metadata.
    With the default refresh interval: under HFSHIM_REFRESH=0 every stat asks the store, which
    can take longer than the 200 us between alarms, and a thread that spends all its time in
    the handler never gets back to its own work (a livelock of the test, not a deadlock)."""
    try:
        rc, out, err = run([probe, prefix, "2"], dict(venv, HFSHIM_REFRESH="30"), timeout=120)
    except subprocess.TimeoutExpired:
        rc, out, err = -1, "", "hung (deadlock?) past 120 s"
    good = rc == 0
    print("%s signal handler amid readers: %s %s" % ("ok" if good else "FAIL", out.strip(),
                                                      err.strip() if not good else ""))
    return good


def check_versioned_symbols(probe, native, prefix, venv):
    """The stat family bound to versioned symbols of older glibc answers as on the native
    tree."""
    rc_n, out_n, err_n = run([probe, native])
    rc_v, out_v, err_v = run([probe, prefix], venv)
    good = rc_n == 0 and rc_v == 0 and out_n == out_v and out_n.count("\n") >= 40
    print("%s versioned symbols (%d lines)" % ("ok" if good else "FAIL", out_n.count("\n")))
    if not good:
        sys.stdout.writelines(difflib.unified_diff(
            out_n.splitlines(True), out_v.splitlines(True), "native", "virtual"))
        print(err_n, err_v)
    return good


def run(cmd, env=None, timeout=300):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--push", required=True)
    ap.add_argument("--counting-preload", required=True)
    ap.add_argument("--signal-probe", required=True)
    ap.add_argument("--symver-probe", required=True)
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
        prefix = os.path.join(tmp, "virtual", "hub")
        venv = dict(env)
        venv.update({"HFSHIM_PREFIX": prefix, "LD_PRELOAD": os.path.abspath(args.lib)})
        ok &= check_inert(prefix, venv)
        rc, out, err = run([args.push, "--store", store, native], env)
        if rc != 0:
            print("hfshim-push failed:", out, err)
            return 1
        ok &= check_refresh(args.push, store, native, prefix, env, venv)
        ok &= check_chained_preload(args.counting_preload, prefix, venv)
        ok &= check_versioned_symbols(args.symver_probe, native, prefix, venv)
        ok &= check_signal_handler(args.signal_probe, prefix, venv)
        for probe in args.probes:
            name = os.path.basename(probe)
            for mode in ("tree", "errors", "walks"):
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
            # An allocator preloaded before and after the shim (jemalloc's init calls open).
            for order in ([JEMALLOC, os.path.abspath(args.lib)], [os.path.abspath(args.lib), JEMALLOC]):
                if rc_v != 0 or not os.path.exists(JEMALLOC) or probe != args.probes[0]:
                    break
                jenv = dict(venv, LD_PRELOAD=" ".join(order))
                rc_v, out_j, err_j = run([probe, "checks", prefix], jenv)
                out_v += out_j
                err_v += err_j
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
