"""Integration group `node`: the node cache shared by processes — eviction under readers, the
cache removed under a job, index refresh and the node's shared store checks, processes
cold-reading one dataset together, warm then offline. Run through run.py."""

import os
import shutil
import subprocess
import time

from groups_lazy import large_blob
from harness import PY, differential

EVICTION_READER = r"""
import hashlib, os, sys
root, native, big = sys.argv[1], sys.argv[2], sys.argv[3]
def digest(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
held = open(os.path.join(root, big), "rb")       # stays open while its content is evicted
want_big = digest(os.path.join(native, big))
bad = 0
snap = os.path.join("datasets--hfshim--small", "snapshots")
for d, _, fs in os.walk(os.path.join(native, snap)):
    for f in fs:
        rel = os.path.relpath(os.path.join(d, f), native)
        bad += digest(os.path.join(root, rel)) != digest(os.path.join(native, rel))
print("small-files-bad", bad)
print("held-fd-exact", hashlib.sha256(held.read()).hexdigest() == want_big)
"""

MEMO_EVICTED_READER = r"""
import glob, os, sys
root, native, small, big, cache = sys.argv[1:6]
want = {rel: open(os.path.join(native, rel), "rb").read() for rel in (small, big)}
for _ in range(3):  # remembered from the second open on (the memo)
    open(os.path.join(root, small), "rb").read()
held = open(os.path.join(root, big), "rb")  # a large file's fill state stays live meanwhile
held.read()
cached = glob.glob(os.path.join(cache, "content", "*", "*"))
for path in cached:
    os.unlink(path)
print("evicted", len(cached) > 0)
print("reread-exact", all(open(os.path.join(root, rel), "rb").read() == want[rel] for rel in want))
"""

CLEARED_READER = r"""
import os, shutil, sys, time
root, native, cache = sys.argv[1:4]
snap = os.path.join("datasets--hfshim--small", "snapshots")
rels = sorted(os.path.relpath(os.path.join(d, f), native)
              for d, _, fs in os.walk(os.path.join(native, snap)) for f in fs)
half = len(rels) // 2
bad = sum(open(os.path.join(root, r), "rb").read() != open(os.path.join(native, r), "rb").read()
          for r in rels[:half])
for attempt in range(50):  # the cache's background writers may still be adding files
    try:
        shutil.rmtree(cache)
        break
    except OSError:
        time.sleep(0.1)
print("cleared", not os.path.exists(cache))
bad += sum(open(os.path.join(root, r), "rb").read() != open(os.path.join(native, r), "rb").read()
           for r in rels[half:])
print("bad-after-clear", bad)
"""

REFRESH_READER = r"""
import hashlib, os, sys, time
root, rel = sys.argv[1], sys.argv[2]
f = open(os.path.join(root, rel), "rb")
before = sorted(n for n in os.listdir(root) if n.startswith(("models--", "datasets--")))
print("before", " ".join(before), flush=True)
sys.stdin.readline()                  # the test pushes a new generation meanwhile
deadline = time.time() + 10
while time.time() < deadline:
    now = sorted(n for n in os.listdir(root) if n.startswith(("models--", "datasets--")))
    if now != before:
        break
    time.sleep(0.2)
print("after", " ".join(now))
print("open-file", hashlib.sha256(f.read()).hexdigest())
"""


DATASET_READER = r"""
import hashlib, json, os, random, subprocess, sys, time
root, native, go, stat_bin = sys.argv[1:5]
while not os.path.exists(go):
    time.sleep(0.005)
snap = os.path.join("datasets--hfshim--small", "snapshots")
rels = sorted(os.path.relpath(os.path.join(d, f), native)
              for d, _, fs in os.walk(os.path.join(native, snap)) for f in fs)
random.Random(3).shuffle(rels)
bad = sum(open(os.path.join(root, r), "rb").read() != open(os.path.join(native, r), "rb").read()
          for r in rels)
snap = json.loads(subprocess.run([stat_bin, "--json", "--pid", str(os.getpid())],
                                 capture_output=True, text=True).stdout)
print(bad, snap["processes"][0]["counters"].get("fetch_bytes", 0))
"""


def read_dataset_cold(w, processes):
    """Cold-reads the small-file dataset with `processes` processes started together; returns
    (files read wrong, total bytes fetched from the store)."""
    shutil.rmtree(w.cache, ignore_errors=True)
    go = os.path.join(w.tmp, "go-dataset")
    if os.path.exists(go):
        os.unlink(go)
    env = w.env(True, XDG_RUNTIME_DIR=os.path.join(w.tmp, "runtime"))
    os.makedirs(env["XDG_RUNTIME_DIR"], exist_ok=True)
    procs = [subprocess.Popen([PY, "-c", DATASET_READER, w.prefix, w.native, go,
                               os.environ["HFSHIM_STAT_BIN"]], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(processes)]
    time.sleep(0.5)
    open(go, "w").close()
    bad = fetched = 0
    for p in procs:
        out, err = p.communicate(timeout=300)
        parts = out.decode().split()
        if len(parts) != 2:
            return -1, err.decode()[-1000:]
        bad += int(parts[0])
        fetched += int(parts[1])
    return bad, fetched


def cache_bytes(w):
    total = 0
    for d, _, fs in os.walk(os.path.join(w.cache)):
        if "content" in d:
            total += sum(os.stat(os.path.join(d, f)).st_blocks * 512 for f in fs)
    return total


def group_node(w, c):
    """The node cache with real processes: eviction under a running reader, refresh of a new
    push, warm then offline reads with the store gone."""
    big = large_blob(w.native)
    limit = 4 << 20
    r = w.run([PY, "-c", EVICTION_READER, "{root}", w.native, big], w.prefix, True,
              HFSHIM_CACHE_SIZE=str(limit))
    got = dict(l.split(" ", 1) for l in r.stdout.decode().splitlines() if " " in l)
    c.ok("eviction: every small file read exactly", got.get("small-files-bad") == "0",
         r.stdout.decode() + r.stderr.decode()[-2000:])
    c.ok("eviction: a file open while evicted stays readable", got.get("held-fd-exact") == "True")
    used = cache_bytes(w)
    c.ok("eviction: the cache stays near its limit (%d KiB of %d KiB + one 4 MiB window)" %
         (used >> 10, limit >> 10), used <= limit + (6 << 20), "used %d" % used)

    # A file the process remembers, whose cache file another process evicted, is fetched again.
    shutil.rmtree(w.cache, ignore_errors=True)
    snap = os.path.join(w.native, "datasets--hfshim--small", "snapshots")
    small = next(os.path.relpath(os.path.join(d, f), w.native)
                 for d, _, fs in sorted(os.walk(snap)) for f in sorted(fs))
    r = w.run([PY, "-c", MEMO_EVICTED_READER, "{root}", w.native, small, big, w.cache], w.prefix,
              True)
    got = dict(l.split(" ", 1) for l in r.stdout.decode().splitlines() if " " in l)
    c.ok("small and large files evicted under the process are fetched again",
         got.get("evicted") == "True" and got.get("reread-exact") == "True",
         r.stdout.decode() + r.stderr.decode()[-2000:])

    # The whole node cache removed under a running job (rm -rf to free space): it goes on.
    shutil.rmtree(w.cache, ignore_errors=True)
    r = w.run([PY, "-c", CLEARED_READER, "{root}", w.native, w.cache], w.prefix, True)
    got = dict(l.split(" ", 1) for l in r.stdout.decode().splitlines() if " " in l)
    c.ok("the node cache removed under a running process: it reads on exactly",
         got.get("cleared") == "True" and got.get("bad-after-clear") == "0",
         r.stdout.decode() + r.stderr.decode()[-2000:])

    # Refresh: a running process sees a new push within HFSHIM_REFRESH; its open file does not
    # change.
    shutil.rmtree(w.cache, ignore_errors=True)
    rel = os.path.join("models--solo", "blobs", os.listdir(os.path.join(w.native, "models--solo",
                                                                        "blobs"))[0])
    want = subprocess.run(["sha256sum", os.path.join(w.native, rel)], capture_output=True,
                          text=True).stdout.split()[0]
    p = subprocess.Popen([PY, "-c", REFRESH_READER, w.prefix, rel], env=w.env(True, HFSHIM_REFRESH="1"),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.readline().decode()
    shutil.copytree(os.path.join(w.native, "models--solo"), os.path.join(w.native, "models--later"),
                    symlinks=True)
    subprocess.check_call([os.environ["HFSHIM_PUSH_BIN"], "--store", "file://" + w.store,
                           w.native], env=w.env(False), stdout=subprocess.DEVNULL)
    out, err = p.communicate(b"go\n", timeout=60)
    lines = dict(l.split(" ", 1) for l in (first + out.decode()).splitlines() if " " in l)
    c.ok("refresh: a running process sees the new repo", "models--later" in
         lines.get("after", "") and "models--later" not in lines.get("before", ""),
         first + out.decode() + err.decode()[-2000:])
    c.ok("refresh: a file open before keeps its content", lines.get("open-file") == want)

    # A process started within HFSHIM_REFRESH of another's check of the store answers from the
    # generation found then, without asking the store (it used to ask before its first answer);
    # after hfshim-push on the node, the next process asks and sees the push at once.
    def listing(**extra):
        r = w.run(["ls", "{root}"], w.prefix, True, HFSHIM_REFRESH="30", **extra)
        return r.stdout.decode(), r.stderr.decode()
    first_ls, _ = listing()
    os.rename(w.store, w.store + ".gone")
    again_ls, again_err = listing()
    os.rename(w.store + ".gone", w.store)
    c.ok("a process right after another answers without asking the store",
         again_ls == first_ls and "models--later" in again_ls and again_err == "",
         first_ls + "\n" + again_ls + again_err)
    shutil.copytree(os.path.join(w.native, "models--solo"),
                    os.path.join(w.native, "models--pushed-here"), symlinks=True)
    subprocess.check_call([os.environ["HFSHIM_PUSH_BIN"], "--store", "file://" + w.store,
                           w.native], env=w.env(False), stdout=subprocess.DEVNULL)
    after_ls, after_err = listing()
    c.ok("... and the next process after hfshim-push on the node sees the push",
         "models--pushed-here" in after_ls, after_ls + after_err)
    # Right after that check, a process of the node pointed at another store (HFSHIM_STORE
    # changed, the node cache kept) shows that store's tree, not the last one the node read.
    other = os.path.join(w.tmp, "other-hub")
    shutil.copytree(os.path.join(w.native, "models--solo"),
                    os.path.join(other, "models--other-store"), symlinks=True)
    other_store = "file://" + os.path.join(w.tmp, "other-store")
    subprocess.check_call([os.environ["HFSHIM_PUSH_BIN"], "--store", other_store, other],
                          env=w.env(False), stdout=subprocess.DEVNULL)
    listing()
    other_ls, other_err = listing(HFSHIM_STORE=other_store)
    c.ok("another store on the same node cache shows its own tree at once",
         other_ls.split() == ["models--other-store"], other_ls + other_err)

    # Processes cold-reading one dataset together fetch it (about) once.
    bad1, one = read_dataset_cold(w, 1)
    bad4, four = read_dataset_cold(w, 4)
    c.ok("4 processes cold-reading the dataset read it exactly", bad1 == 0 and bad4 == 0,
         "%s %s" % (one, four))
    c.ok("... and fetch it once between them (%s bytes by 4, %s by 1)" % (four, one),
         bad4 == 0 and isinstance(four, int) and 0 < four <= one * 1.05)

    # Warm, then the store is gone: new processes serve everything from the node.
    r = subprocess.run([os.environ["HFSHIM_WARM_BIN"], "--all", "--json"], capture_output=True,
                       text=True, env=w.env(False))
    c.ok("hfshim-warm --all", r.returncode == 0, r.stdout + r.stderr)
    os.rename(w.store, w.store + ".away")
    try:
        differential(w, c, "offline: sha256 of every file after warm, store gone", ["sh", "-c",
                     "cd {root} && find . -type l -o -type f | sort | xargs -d '\\n' sha256sum"])
    finally:
        os.rename(w.store + ".away", w.store)
