#!/usr/bin/env python3
"""hfshim-push, hfshim-ls and hfshim-warm as a user runs them: exit codes, JSON, messages.

  tools_test.py HFSHIM_PUSH HFSHIM_LS HFSHIM_WARM
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
push, ls, warm = sys.argv[1:4]
tmp = tempfile.mkdtemp(prefix="hfshim-tools-")
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("PASS", name)
    else:
        failed += 1
        print("FAIL", name, detail[-3000:])


def run(*args, **env):
    e = dict(os.environ)
    e.update({"HFSHIM_CACHE_DIR": os.path.join(tmp, "cache"), "HFSHIM_PREFIX":
              os.path.join(tmp, "prefix"), "HFSHIM_STORE": "file://" + os.path.join(tmp, "store")})
    e.update(env)
    return subprocess.run(list(args), env=e, capture_output=True, text=True, timeout=240)


try:
    hub = os.path.join(tmp, "hub")
    subprocess.check_call(["/usr/bin/python3", os.path.join(REPO, "scripts", "gen_hub_cache.py"),
                           hub, "--files", "300", "--large-mb", "2"])
    r = run(push, hub, "--json")
    check("push exits 0", r.returncode == 0, r.stderr)
    summary = json.loads(r.stdout)
    check("push --json summary", summary["generation"] == 1 and summary["files"] > 300 and
          summary["bytes_uploaded"] > 2 << 20 and not summary["up_to_date"], r.stdout)
    check("no progress bar when stderr is not a terminal", r.stderr == "", r.stderr)
    r = run(push, hub)
    check("re-push says up to date", r.returncode == 0 and "up to date" in r.stdout, r.stdout)
    r = run(ls, "--json")
    listing = json.loads(r.stdout)
    ids = sorted(x["id"] for x in listing["repos"])
    check("ls --json lists the repos", ids == ["datasets/hfshim/small", "hfshim/tiny-model",
                                               "solo"], r.stdout)
    r = run(ls, "hfshim/tiny-model")
    check("ls REPO shows revisions and refs", r.returncode == 0 and "revision" in r.stdout and
          "pr/1=" in r.stdout, r.stdout)
    r = run(ls, "no/such-repo")
    check("ls of a missing repo fails with the fix", r.returncode == 1 and
          "push it with hfshim-push" in r.stderr, r.stderr)

    r = run(warm, "hfshim/tiny-model@main", "--json")
    w = json.loads(r.stdout) if r.returncode == 0 else {}
    check("warm fetches a revision", w.get("fetched", 0) >= 3 and w.get("failed") == 0,
          r.stdout + r.stderr)
    r = run(warm, "hfshim/tiny-model@main")
    check("second warm fetches nothing and says so", r.returncode == 0 and
          "nothing to fetch" in r.stdout, r.stdout)
    cache_files = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(tmp, "cache",
                                                                             "content"))
                   for f in fs if len(f) == 32]
    biggest = max(cache_files, key=os.path.getsize)
    with open(biggest, "r+b") as f:
        f.seek(100)
        f.write(b"CORRUPT")
    r = run(warm, "hfshim/tiny-model@main", "--verify", "--json")
    w = json.loads(r.stdout) if r.returncode == 0 else {}
    check("warm --verify replaces a corrupt cache file", w.get("corrupt_dropped") == 1 and
          w.get("fetched") == 1, r.stdout + r.stderr)
    r = run(warm, "--all", "--json")
    check("warm --all", r.returncode == 0 and json.loads(r.stdout)["failed"] == 0, r.stderr)

    r = run(push, "--bogus")
    check("unknown option exits 2", r.returncode == 2 and "Try 'hfshim-push --help'" in r.stderr,
          r.stderr)
    r = run(push, hub, HFSHIM_BLOCK_SIZE="3M")
    check("invalid setting exits 2 naming it", r.returncode == 2 and "HFSHIM_BLOCK_SIZE" in
          r.stderr and "power of two" in r.stderr, r.stderr)
    r = run(push, "--store", "ftp://x", hub)
    check("unsupported store URL is a clear failure", r.returncode == 1 and "ftp://x" in r.stderr,
          r.stderr)
    r = run(push, os.path.join(tmp, "nonexistent"))
    check("missing hub dir is a clear failure", r.returncode == 1 and "cannot read hub cache" in
          r.stderr, r.stderr)
    r = run(push, "--help")
    check("--help prints usage and settings", r.returncode == 0 and "HFSHIM_STORE" in r.stdout and
          "Usage: hfshim-push" in r.stdout, r.stdout)
    r = run(warm, "nope/nope")
    check("warm of an unknown target fails", r.returncode == 1 and "hfshim-ls" in r.stderr,
          r.stderr)
    r = run(warm, HFSHIM_STORE="file://" + os.path.join(tmp, "empty-store"))
    check("warm without targets is a usage error", r.returncode == 2, r.stderr)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
