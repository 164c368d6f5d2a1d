"""Shared set-up of the integration tests: a generated hub cache, pushed into a temp store, and
a way to run a command natively on it or under LD_PRELOAD on an empty prefix.

Every test process builds its own world in a temp dir and removes it; nothing outside is touched.
"""

import difflib
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = "/usr/bin/python3"


class World:
    def __init__(self, push, lib, files=800, large_mb=6):
        self.tmp = tempfile.mkdtemp(prefix="hfshim-integ-")
        self.native = os.path.join(self.tmp, "native")
        self.prefix = os.path.join(self.tmp, "prefix")
        self.store = os.path.join(self.tmp, "store")
        self.cache = os.path.join(self.tmp, "cache")
        self.lib = lib
        subprocess.check_call([PY, os.path.join(REPO, "scripts", "gen_hub_cache.py"),
                               self.native, "--files", str(files), "--large-mb", str(large_mb)])
        os.makedirs(self.prefix)
        subprocess.check_call([push, "--store", "file://" + self.store, self.native],
                              env=self.env(preload=False), stdout=subprocess.DEVNULL)

    def env(self, preload=True, **extra):
        env = dict(os.environ)
        for k in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "LD_PRELOAD"):
            env.pop(k, None)
        env.update({"HFSHIM_STORE": "file://" + self.store, "HFSHIM_CACHE_DIR": self.cache,
                    "HFSHIM_PREFIX": self.prefix, "HFSHIM_REFRESH": "0"})
        if preload:
            env["LD_PRELOAD"] = self.lib
        env.update(extra)
        return env

    def run(self, cmd, root, preload, cwd=None, **extra):
        """Runs `cmd` (a list; "{root}" is replaced by the tree's root); returns the result."""
        cmd = [c.replace("{root}", root) for c in cmd]
        return subprocess.run(cmd, env=self.env(preload, **extra), cwd=cwd,
                              capture_output=True, timeout=300)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class Checks:
    """Collects named checks; exit() prints the summary line and sets the exit status."""

    def __init__(self):
        self.passed = self.failed = 0

    def ok(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print("PASS", name, flush=True)
        else:
            self.failed += 1
            print("FAIL", name, flush=True)
            if detail:
                print(detail[-6000:], flush=True)

    def same(self, name, native, virtual):
        if isinstance(native, bytes):
            native = native.decode("utf-8", "replace")
            virtual = virtual.decode("utf-8", "replace")
        diff = "".join(difflib.unified_diff(native.splitlines(True), virtual.splitlines(True),
                                            "native", "virtual", n=1))
        self.ok(name, native == virtual and native != "", diff or "(empty output)")

    def exit(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed else 0)


def differential(world, checks, name, cmd, normalise=None, cwd_inside=False):
    """Runs cmd on the native tree and, preloaded, on the virtual one; outputs must match."""
    outs = []
    for root, preload in ((world.native, False), (world.prefix, True)):
        r = world.run(cmd, root, preload, cwd=root if cwd_inside else None)
        out = r.stdout.decode("utf-8", "replace").replace(root, "ROOT")
        # The prefix directory itself is real (hub locks live beside the repos): its own
        # metadata is not the pushed tree's, so lines about the root alone are not compared.
        out = "\n".join(l for l in out.splitlines()
                        if not l.startswith(("ROOT ", "DIR . ", ". ", "ROOT\t")))
        if normalise:
            out = normalise(out)
        if r.returncode != 0:
            out += "\nexit %d: %s" % (r.returncode, r.stderr.decode("utf-8", "replace")[-2000:])
        outs.append(out)
    checks.same(name, outs[0], outs[1])
