#!/usr/bin/env python3
"""hfshim-push, hfshim-ls and hfshim-warm as a user runs them: exit codes, JSON, messages.

  tools_test.py HFSHIM_PUSH HFSHIM_LS HFSHIM_WARM
"""

import json
import os
import re
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

    # Under `ulimit -v` the push builds its index in a map that fits the limit.
    r = subprocess.run(["sh", "-c", 'ulimit -v 1048576 && exec "$0" --store "$1" --json "$2"',
                        push, "file://" + os.path.join(tmp, "store-ulimit"), hub],
                       capture_output=True, text=True, timeout=240)
    check("push under ulimit -v 1 GiB", r.returncode == 0 and
          json.loads(r.stdout or "{}").get("generation") == 1, r.stderr)
    # Under `ulimit -f` it stays within the limit (LMDB would size its file to the whole map,
    # and the kernel kills a process growing a file past the limit), or fails saying so.
    for limit, ok in (("100000", True), ("100", False)):
        r = subprocess.run(["sh", "-c", 'ulimit -f %s && exec "$0" --store "$1" "$2"' % limit,
                            push, "file://" + os.path.join(tmp, "store-f" + limit), hub],
                           capture_output=True, text=True, timeout=240)
        check("push under ulimit -f %s KiB" % limit,
              r.returncode == 0 if ok else (r.returncode == 1 and "ulimit -f" in r.stderr),
              "exit %d: %s" % (r.returncode, r.stderr))
    r = run(push, "--bogus")
    check("unknown option exits 2", r.returncode == 2 and "Try 'hfshim-push --help'" in r.stderr,
          r.stderr)
    # An invalid setting is a configuration failure (exit 1), whether it comes from an option
    # or from the environment; usage errors (exit 2) are about the command line only.
    r = run(push, hub, HFSHIM_BLOCK_SIZE="3M")
    check("invalid setting exits 1 naming it", r.returncode == 1 and "HFSHIM_BLOCK_SIZE" in
          r.stderr and "power of two" in r.stderr, r.stderr)
    r = run(push, "--store", "ftp://x", hub)
    check("unsupported store URL is a clear failure", r.returncode == 1 and "ftp://x" in r.stderr,
          r.stderr)
    for tool, args in ((push, [hub]), (ls, []), (warm, ["--all"])):
        r = run(tool, *args, HFSHIM_STORE="ftp://x")
        check("unsupported HFSHIM_STORE exits 1 like --store (%s)" % os.path.basename(tool),
              r.returncode == 1 and "ftp://x" in r.stderr and "Try" not in r.stderr, r.stderr)
    r = run(push, "--store", "file:///proc/x", hub)
    check("uncreatable store directory names the fix", r.returncode == 1 and
          "cannot create the store directory /proc/x" in r.stderr and "--store file://" in
          r.stderr, r.stderr)
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
    # A store directory that does not exist is a typo or a lost mount, not an empty store.
    missing = os.path.join(tmp, "no-such-store")
    for tool, args in ((ls, []), (warm, ["--all"])):
        r = run(tool, *args, HFSHIM_STORE="file://" + missing)
        check("%s of a missing store directory fails saying so" % os.path.basename(tool),
              r.returncode == 1 and "store directory %s does not exist" % missing in r.stderr,
              r.stderr)
    # Targets: the hub cache itself is everything; out of it, or empty, is an error.
    everything = json.loads(run(warm, "--all", "--json").stdout)["files"]
    for target in (os.path.join(tmp, "prefix"), os.path.join(tmp, "prefix") + "/", "models--solo/.."):
        r = run(warm, target, "--json")
        got = json.loads(r.stdout)["files"] if r.returncode == 0 else r.stderr
        check("warm of the hub cache itself (%s) selects everything" % target, got == everything,
              str(got))
    for target in ("../etc/passwd", "models--solo/../../x"):
        r = run(warm, target)
        check("warm of %s (out of the hub cache) fails" % target, r.returncode == 1 and
              "out of the hub cache" in r.stderr, r.stderr)
    r = run(warm, "")
    check("warm of an empty target is a usage error", r.returncode == 2, r.stderr)

    # --from-profile: a profile without reads, or one that cannot be read, is a failure that
    # says so (not a usage error).
    profile = os.path.join(tmp, "job.profile")
    with open(profile, "w") as f:
        f.write("1700000000000000 open 5 0 0 disk %s\n" %
                os.path.join(tmp, "prefix", "models--solo"))
    r = run(warm, "--from-profile", profile, "--json")
    w = json.loads(r.stdout) if r.returncode == 0 else {}
    check("warm --from-profile warms the files the profile read", w.get("files", 0) >= 1 and
          w.get("failed") == 0, r.stdout + r.stderr)
    empty = os.path.join(tmp, "empty.profile")
    open(empty, "w").close()
    garbage = os.path.join(tmp, "garbage.profile")
    with open(garbage, "w") as f:
        f.write("not a profile\n1700000000000000 stat 5 0 0 index models--solo\n")
    for name, path in (("empty", empty), ("garbage", garbage)):
        r = run(warm, "--from-profile", path)
        check("warm --from-profile of a %s profile says it records no reads" % name,
              r.returncode == 1 and "profile %s records no reads" % path in r.stderr, r.stderr)
    r = run(warm, "--from-profile", tmp)
    check("warm --from-profile of a directory gives the reason", r.returncode == 1 and
          "cannot read profile %s: Is a directory" % tmp in r.stderr, r.stderr)
    r = run(warm, "--from-profile", "/nonexistent")
    check("warm --from-profile of a missing file gives the reason", r.returncode == 1 and
          "cannot read profile /nonexistent: No such file or directory" in r.stderr, r.stderr)
    for args in (["--all", "hfshim/tiny-model"], ["--from-profile", profile, "solo"],
                 ["--all", "--from-profile", profile]):
        r = run(warm, *args)
        check("warm %s is a usage error" % " ".join(args), r.returncode == 2 and
              "cannot be combined" in r.stderr and "Try 'hfshim-warm --help'" in r.stderr,
              r.stderr)
    r = run(warm, "solo@nope")
    check("warm of a missing revision lists what the repo has", r.returncode == 1 and
          "revision nope of solo is not in the store" in r.stderr and "main" in r.stderr and
          "hfshim-ls solo" in r.stderr, r.stderr)

    r = run(ls, "a//b")
    check("ls of a malformed repo id says so", r.returncode == 2 and
          "'a//b' is not a repo id" in r.stderr, r.stderr)
    r = run(ls, "solo", "hfshim/tiny-model")
    check("ls of two repo ids is a usage error", r.returncode == 2 and
          "at most one repo id" in r.stderr, r.stderr)
    for tool in (push, ls, warm):
        name = os.path.basename(tool)
        r = run(tool, "--version")
        check("%s --version" % name, r.returncode == 0 and
              re.fullmatch(r"%s \d+\.\d+\.\d+\n" % name, r.stdout) is not None,
              r.stdout + r.stderr)
        r = run(tool, "--help")
        usage = r.stdout.split("HFSHIM_STORE ")[0]
        check("%s --help lists --version" % name, r.returncode == 0 and "--version" in usage,
              usage)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
