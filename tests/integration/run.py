#!/usr/bin/env python3
"""Integration tests: real programs under LD_PRELOAD against a pushed hub cache.

  run.py GROUP HFSHIM_PUSH LIBHFSHIM
GROUP: tree | coreutils | archive | torch | errors | processes | failures | stats | lazy | node
Differential groups run the same probe on the native tree and on the virtual one (an empty
prefix directory under LD_PRELOAD) and require identical output.
"""

import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PY, Checks, World, differential  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def no_totals(out):
    # ls prints "total N" in allocated blocks, which depend on the file system: not compared.
    return "\n".join(l for l in out.splitlines() if not l.startswith("total "))


def group_tree(w, c):
    differential(w, c, "python os.walk/stat/scandir/realpath/sha256/mmap/glob",
                 [PY, os.path.join(HERE, "probe_tree.py"), "{root}"])


def group_coreutils(w, c):
    differential(w, c, "ls -lR", ["ls", "-lR", "--time-style=full-iso", "{root}"], no_totals)
    differential(w, c, "find -printf", ["sh", "-c",
                 "find {root} -printf '%p %s %m %y %l %n %TY-%Tm-%Td+%TT\\n' | sort"])
    differential(w, c, "du -ab", ["sh", "-c", "du -ab {root} | sort -k2"])
    # The repos are not mount points: one file system with the directory they appear in.
    differential(w, c, "find -xdev, tar --one-file-system, ismount", ["sh", "-c",
                 "find {root} -xdev -printf '%P\\n' | sort; "
                 "tar -C {root} --one-file-system -cf - . | tar -tf - | sort | md5sum; "
                 "cd {root} && /usr/bin/python3 -c 'import os; "
                 "print([os.path.ismount(d) for d in sorted(os.listdir(\".\"))])'"])
    # Allocated sizes as ext4 reports them for files and symlinks (4 KiB blocks).
    differential(w, c, "du -B1 of files", ["sh", "-c",
                 "cd {root} && find . -type f -o -type l | sort | xargs -d '\\n' du -B1"])
    differential(w, c, "sha256sum", ["sh", "-c",
                 "cd {root} && find . -type l -o -type f | sort | xargs -d '\\n' sha256sum"])
    differential(w, c, "stat -c", ["sh", "-c",
                 "find {root} -print0 | sort -z | xargs -0 stat -c '%n %s %f %Y %h %F %N'"])
    differential(w, c, "cat of a snapshot file", ["sh", "-c",
                 "cat {root}/models--hfshim--tiny-model/snapshots/*/config.json"])
    differential(w, c, "md5sum via fopen", ["sh", "-c",
                 "cd {root} && md5sum models--hfshim--tiny-model/snapshots/*/tokenizer.json"])


def group_archive(w, c):
    repos = "datasets--hfshim--small models--hfshim--tiny-model models--solo"
    differential(w, c, "tar stream (sorted) is byte-identical", ["sh", "-c",
                 "tar -C {root} --sort=name -cf - %s | sha256sum" % repos])
    differential(w, c, "tar -tv listing", ["sh", "-c",
                 "tar -C {root} --sort=name -cf - %s | tar -tvf - --full-time" % repos])
    r = w.run(["diff", "-r", w.native, w.prefix], w.prefix, True)
    c.ok("diff -r native virtual", r.returncode == 0, r.stdout.decode()[-3000:] +
         r.stderr.decode()[-2000:])
    out = os.path.join(w.tmp, "copied")
    r = w.run(["cp", "-r", w.prefix, out], w.prefix, True)
    c.ok("cp -r out of the tree", r.returncode == 0, r.stderr.decode())
    r = subprocess.run(["diff", "-r", w.native, out], capture_output=True)
    c.ok("copy equals the native tree", r.returncode == 0, r.stdout.decode()[-3000:])
    r = w.run(["sh", "-c", "cp -a {root}/models--solo " + os.path.join(w.tmp, "cpa") +
               " && ls -l --time-style=+%s " + os.path.join(w.tmp, "cpa/snapshots/*/")],
              w.prefix, True)
    c.ok("cp -a keeps symlinks", r.returncode == 0 and b"-> ../../blobs/" in r.stdout,
         r.stdout.decode() + r.stderr.decode())


def group_torch(w, c):
    # Add a torch checkpoint repo and push it: the store then holds both repos.
    repo = os.path.join(w.native, "models--ckpt")
    os.makedirs(os.path.join(repo, "snapshots", "r"))
    os.makedirs(os.path.join(repo, "blobs"))
    subprocess.check_call([PY, "-c", "import torch; torch.manual_seed(0); torch.save("
                           "{'w': torch.randn(64, 64), 'b': torch.zeros(3)}, '%s')" %
                           os.path.join(repo, "blobs", "ck")])
    os.symlink("../../blobs/ck", os.path.join(repo, "snapshots", "r", "ckpt.pt"))
    subprocess.check_call([os.environ["HFSHIM_PUSH_BIN"], "--store", "file://" + w.store,
                           "--repo", "ckpt", w.native], env=w.env(False),
                          stdout=subprocess.DEVNULL)
    differential(w, c, "torch DataLoader fork/spawn/forkserver, numpy memmap, torch.load",
                 [PY, os.path.join(HERE, "probe_torch.py"), "{root}"])


ERRORS_PROBE = r"""
import errno, os, sys
root = sys.argv[1]
snap = os.path.join(root, "models--hfshim--tiny-model", "snapshots")
rev = sorted(os.listdir(snap))[0]
f = os.path.join(snap, rev, "config.json")
def code(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
print("open-w", code(lambda: open(f, "w")))
print("open-a", code(lambda: open(f, "a")))
print("open-rw", code(lambda: os.open(f, os.O_RDWR)))
print("creat", code(lambda: open(os.path.join(snap, rev, "new.txt"), "w")))
print("mkdir", code(lambda: os.mkdir(os.path.join(snap, "x"))))
print("unlink", code(lambda: os.unlink(f)))
print("rename", code(lambda: os.rename(f, f + ".2")))
print("chmod", code(lambda: os.chmod(f, 0o600)))
print("utime", code(lambda: os.utime(f)))
print("rmdir", code(lambda: os.rmdir(os.path.join(snap, rev))))
print("access-w", os.access(f, os.W_OK), os.access(f, os.R_OK))
print("missing", code(lambda: os.stat(os.path.join(snap, rev, "nope"))))
print("notdir", code(lambda: os.stat(f + "/x")))
print("trailing-slash", code(lambda: os.stat(f + "/")))
print("nofollow", code(lambda: os.open(f, os.O_RDONLY | os.O_NOFOLLOW)))
print("o_directory", code(lambda: os.open(f, os.O_RDONLY | os.O_DIRECTORY)))
print("dotdot", os.path.realpath(os.path.join(snap, rev, "..", rev, "config.json")) ==
      os.path.realpath(f))
print("makedirs-exist-ok", code(lambda: os.makedirs(snap, exist_ok=True)))
# Symlinks from outside the prefix into it (ln -s .../snapshots/<rev> ./model) are followed.
import tempfile
out = tempfile.mkdtemp()
os.symlink(os.path.join(snap, rev), os.path.join(out, "model"))
os.symlink(f, os.path.join(out, "config.json"))
os.symlink("model", os.path.join(out, "chain"))
print("outside-link-dir", sorted(os.listdir(os.path.join(out, "model"))) ==
      sorted(os.listdir(os.path.join(snap, rev))))
print("outside-link-file", open(os.path.join(out, "config.json"), "rb").read() ==
      open(f, "rb").read() and os.stat(os.path.join(out, "config.json")).st_ino == os.stat(f).st_ino)
print("outside-link-chain", open(os.path.join(out, "chain", "config.json"), "rb").read() ==
      open(f, "rb").read())
print("outside-link-missing", code(lambda: os.stat(os.path.join(out, "model", "nope"))),
      code(lambda: os.stat(os.path.join(out, "nope"))))
print("outside-link-write", code(lambda: open(os.path.join(out, "model", "new.txt"), "w")))
# A relative path that missed is remembered per working directory: the same name in another
# directory, where it is a link into the prefix, is followed at once.
elsewhere = tempfile.mkdtemp()
here = os.getcwd()
os.chdir(elsewhere)
missed = code(lambda: os.stat(os.path.join("model", os.path.basename(f))))
os.chdir(out)
print("outside-link-relative", missed, code(lambda: os.stat(os.path.join("model", os.path.basename(f)))))
os.chdir(here)
os.rmdir(elsewhere)
import shutil
shutil.rmtree(out)
# ".." above the prefix root and back in names the same entries.
again = os.path.join(root, "..", os.path.basename(root))
print("dotdot-root", sorted(os.listdir(again)) == sorted(os.listdir(root)))
print("dotdot-reenter", open(os.path.join(again, os.path.relpath(f, root)), "rb").read() ==
      open(f, "rb").read())
# As a read-only file system orders its errors (checked against a read-only bind mount).
print("open-rdonly-creat", code(lambda: os.close(os.open(f, os.O_RDONLY | os.O_CREAT))))
print("open-excl", code(lambda: open(f, "x")))
print("open-excl-dir", code(lambda: os.open(snap, os.O_RDONLY | os.O_CREAT | os.O_EXCL)))
print("open-creat-dir", code(lambda: os.open(snap, os.O_RDONLY | os.O_CREAT)))
print("nofollow-directory", code(lambda: os.open(f, os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY)))
print("link-new", code(lambda: os.link(f, f + ".hard")))
print("link-existing", code(lambda: os.link(f, os.path.join(snap, rev))))
print("link-out", code(lambda: os.link(f, os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                      "hfshim-link-%d" % os.getpid()))))
print("unlink-missing", code(lambda: os.unlink(os.path.join(snap, rev, "nope"))))
print("rmdir-missing", code(lambda: os.rmdir(os.path.join(snap, "nope"))))
print("rename-missing", code(lambda: os.rename(os.path.join(snap, "nope"), os.path.join(snap, "x"))))
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.readlink(f.encode(), ctypes.create_string_buffer(8), 0)
print("readlink-size-0", errno.errorcode[ctypes.get_errno()] if rc < 0 else rc)
def made(rc):
    return errno.errorcode[ctypes.get_errno()] if rc in (-1, None) else "made"
libc.mkdtemp.restype = ctypes.c_char_p
tmpl = os.path.join(snap, rev, "tmpXXXXXX").encode()
print("mkstemp", made(libc.mkstemp(ctypes.create_string_buffer(tmpl))))
print("mkostemps", made(libc.mkostemps(ctypes.create_string_buffer(tmpl + b".x"), 2, 0)))
print("mkdtemp", made(libc.mkdtemp(ctypes.create_string_buffer(tmpl))))
print("pathconf", code(lambda: os.pathconf(f, "PC_NAME_MAX")))
# The fd spelled as a path ("/proc/self/fd/N", "/dev/fd/N"): the kernel would act on the node
# cache file behind the fd, which every process of the node shares.
fd = os.open(f, os.O_RDONLY)
before = open(f, "rb").read()
print("fdlink-open-w", code(lambda: os.open("/proc/self/fd/%d" % fd, os.O_WRONLY)))
print("fdlink-truncate", code(lambda: os.truncate("/dev/fd/%d" % fd, 0)))
print("fdlink-chmod", code(lambda: os.chmod("/proc/self/fd/%d" % fd, 0o600)))
print("fdlink-access-w", os.access("/dev/fd/%d" % fd, os.W_OK))
print("fdlink-unchanged", open(f, "rb").read() == before)
st, lst = os.stat("/proc/self/fd/%d" % fd), os.stat(f)
print("fdlink-stat", (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino) ==
      (lst.st_mode, lst.st_size, lst.st_mtime_ns, lst.st_ino))
fd2 = os.open("/dev/fd/%d" % fd, os.O_RDONLY)
st2 = os.fstat(fd2)
print("fdlink-reopen", os.read(fd2, 1 << 20) == before and st2.st_mtime_ns == lst.st_mtime_ns)
"""


def group_errors(w, c):
    r = w.run([PY, "-c", ERRORS_PROBE, "{root}"], w.prefix, True)
    out = r.stdout.decode()
    expect = {"open-w": "EROFS", "open-a": "EROFS", "open-rw": "EROFS", "creat": "EROFS",
              "mkdir": "EROFS", "unlink": "EROFS", "rename": "EROFS", "chmod": "EROFS",
              "utime": "EROFS", "rmdir": "EROFS", "access-w": "False True",
              "missing": "ENOENT", "notdir": "ENOTDIR", "trailing-slash": "ENOTDIR",
              "nofollow": "ELOOP", "o_directory": "ENOTDIR", "dotdot": "True",
              "makedirs-exist-ok": "ok", "dotdot-root": "True", "dotdot-reenter": "True",
              "outside-link-dir": "True", "outside-link-file": "True",
              "outside-link-chain": "True", "outside-link-missing": "ENOENT ENOENT",
              "outside-link-write": "EROFS", "outside-link-relative": "ENOENT ok",
              "fdlink-open-w": "EROFS", "fdlink-truncate": "EROFS",
              "fdlink-chmod": "EROFS", "fdlink-access-w": "False", "fdlink-unchanged": "True",
              "fdlink-stat": "True", "fdlink-reopen": "True", "open-rdonly-creat": "ok",
              "open-excl": "EEXIST", "open-excl-dir": "EEXIST", "open-creat-dir": "EISDIR",
              "nofollow-directory": "ENOTDIR", "link-new": "EROFS", "link-existing": "EEXIST",
              "link-out": "EXDEV", "unlink-missing": "EROFS", "rmdir-missing": "EROFS",
              "rename-missing": "EROFS", "readlink-size-0": "EINVAL", "mkstemp": "EROFS",
              "mkostemps": "EROFS", "mkdtemp": "EROFS", "pathconf": "ok"}
    got = dict(l.split(" ", 1) for l in out.splitlines() if " " in l)
    for k, v in expect.items():
        c.ok("errno " + k, got.get(k) == v, "got %r, want %r\n%s" % (got.get(k), v,
                                                                   r.stderr.decode()[-2000:]))
    # The rest of the prefix is the real, writable directory: the hub takes its locks there.
    r = w.run([PY, "-c", "import os, fcntl, sys; p = sys.argv[1] + '/.locks/models--x';"
               "os.makedirs(p, exist_ok=True); f = open(p + '/a.lock', 'w');"
               "fcntl.flock(f, fcntl.LOCK_EX); open(sys.argv[1] + '/version.txt', 'w').write('1')",
               "{root}"], w.prefix, True)
    c.ok(".locks and version.txt are real and writable", r.returncode == 0 and
         os.path.exists(os.path.join(w.prefix, ".locks", "models--x", "a.lock")),
         r.stderr.decode())


PROC_PROBE = r"""
import hashlib, os, subprocess, sys, threading
root = sys.argv[1]
snap = os.path.join(root, "datasets--hfshim--small", "snapshots")
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(snap) for f in fs)
def digest(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
want = {p: digest(p) for p in files[:200]}
bad = []
def worker(k):
    for i in range(300):
        p = files[(i * 7 + k) % 200] if k % 2 else files[0]
        if digest(p) != want[p]:
            bad.append(p)
ts = [threading.Thread(target=worker, args=(k,)) for k in range(64)]
[t.start() for t in ts]
pid = os.fork()  # fork while 64 threads are inside the shim
if pid == 0:
    ok = all(digest(p) == want[p] for p in files[:50])
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
[t.join() for t in ts]
print("threads", "ok" if not bad else "BAD")
print("fork-child", os.waitstatus_to_exitcode(status))
out = subprocess.run(["sh", "-c", "cat '%s' | sha256sum" % files[3]], capture_output=True)
print("exec-chain", out.stdout.split()[0].decode() == want[files[3]])
out = subprocess.run(["ls"], cwd=os.path.dirname(files[3]), capture_output=True)
print("subprocess-cwd", os.path.basename(files[3]) in out.stdout.decode())
os.closerange(3, 65536)
print("after-closerange", digest(files[5]) == want[files[5]])
os.chdir(os.path.dirname(files[7]))
print("chdir-relative", digest(os.path.basename(files[7])) == want[files[7]],
      os.getcwd() == os.path.dirname(files[7]))
fd = os.open(os.path.dirname(files[9]), os.O_RDONLY)
print("openat-dirfd", os.stat(os.path.basename(files[9]), dir_fd=fd).st_size ==
      os.stat(files[9]).st_size)
"""


def group_processes(w, c):
    r = w.run([PY, "-c", PROC_PROBE, "{root}"], w.prefix, True)
    got = dict(l.split(" ", 1) for l in r.stdout.decode().splitlines() if " " in l)
    for k, v in {"threads": "ok", "fork-child": "0", "exec-chain": "True",
                 "subprocess-cwd": "True", "after-closerange": "True",
                 "chdir-relative": "True True", "openat-dirfd": "True"}.items():
        c.ok("process " + k, got.get(k) == v, "got %r\n%s" % (got.get(k),
                                                             r.stderr.decode()[-3000:]))
    # The preload costs every exec the libraries it loads: libcurl with its ~30 dependencies,
    # and libcrypto, are loaded only by a process that talks to an HTTP or S3 store, not by one
    # outside the prefix, nor by one reading a file:// store.
    for label, cmd in (("outside the prefix", ["cat", "/proc/self/maps"]),
                       ("reading a file:// store",
                        [PY, "-c", "import os, sys; assert os.listdir(sys.argv[1]); "
                         "print(open('/proc/self/maps').read())", "{root}"])):
        r = w.run(cmd, w.prefix, True)
        maps = r.stdout.decode()
        c.ok("a process %s loads neither libcurl nor libcrypto" % label,
             r.returncode == 0 and "libhfshim" in maps and "libcurl" not in maps and
             "libcrypto" not in maps,
             maps[-3000:] + r.stderr.decode()[-1000:])


def group_failures(w, c):
    snap = os.path.join(w.prefix, "models--hfshim--tiny-model", "snapshots")
    # 1. A content object missing from the store: EIO/ENOENT and an hfshim: line, no bytes.
    for name in os.listdir(os.path.join(w.store, "data")):
        os.unlink(os.path.join(w.store, "data", name))
    probe = ("import os, sys, errno\nd = sys.argv[1]\n"
             "try:\n  rev = sorted(os.listdir(d))[-1]\n"
             "  open(os.path.join(d, rev, 'model.safetensors'), 'rb').read(); print('read')\n"
             "except OSError as e: print(errno.errorcode[e.errno])\n")
    start = time.time()
    r = w.run([PY, "-c", probe, snap], w.prefix, True)
    out, err = r.stdout.decode().strip(), r.stderr.decode()
    c.ok("missing store object fails cleanly", out in ("EIO", "ENOENT") and "hfshim:" in err,
         "stdout %r stderr %r" % (out, err))
    # 2. The whole store gone, node cache empty: a clean error, quickly, no hang.
    shutil.rmtree(w.store)
    shutil.rmtree(w.cache, ignore_errors=True)
    r = w.run([PY, "-c", probe, snap], w.prefix, True, HFSHIM_TIMEOUT="5")
    out = r.stdout.decode().strip()
    c.ok("unreachable store: clean error, no hang", out in ("EIO", "ENOENT") and
         time.time() - start < 60, "stdout %r stderr %r" % (out, r.stderr.decode()))


STATS_PROBE = r"""
import os, sys
root, stats_bin = sys.argv[1], sys.argv[2]
snap = os.path.join(root, "datasets--hfshim--small", "snapshots")
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(snap) for f in fs)[:40]
for p in files:
    os.stat(p)          # 40 virtual stats
for p in files[:25]:
    os.close(os.open(p, os.O_RDONLY))  # 25 virtual opens
sys.stdout.flush()
me = str(os.getpid())
child = os.fork()
if child == 0:  # report on the parent while it is alive; it then exits normally (profile flush)
    os.execv(stats_bin, [stats_bin, "--json", "--pid", me])
os.waitpid(child, 0)
"""


def group_stats(w, c):
    """Counters match a scripted workload exactly; the profile records it; forked children
    and other processes show separately."""
    import json
    runtime = os.path.join(w.tmp, "runtime")
    os.makedirs(runtime)
    profile = os.path.join(w.tmp, "profile.log")
    stat_bin = os.environ["HFSHIM_STAT_BIN"]
    # The workload runs hfshim-stat on itself as its last step, while its segment is live.
    r = w.run([PY, "-c", STATS_PROBE, "{root}", stat_bin], w.prefix, True,
              XDG_RUNTIME_DIR=runtime, HFSHIM_PROFILE=profile)
    try:
        snap = json.loads(r.stdout.decode().splitlines()[-1])
        counters = snap["processes"][0]["counters"]
    except (ValueError, IndexError, KeyError):
        counters = {}
    c.ok("counters: 40 virtual stats", counters.get("virtual_stats", 0) >= 40,
         r.stdout.decode()[-2000:] + r.stderr.decode()[-2000:])
    c.ok("counters: 25 virtual opens", counters.get("virtual_opens") == 25, str(counters))
    c.ok("counters: cache hits + misses = opens",
         counters.get("cache_file_hits", 0) + counters.get("cache_file_misses", 0) == 25,
         str(counters))
    c.ok("counters: bytes came from the store", counters.get("fetch_bytes", 0) > 0, str(counters))
    s = subprocess.run([stat_bin, "--profile", profile, "--once", "--json"], capture_output=True,
                       text=True)
    try:
        prof = json.loads(s.stdout)
    except ValueError:
        prof = {}
    c.ok("profile: 25 opens recorded", prof.get("ops", {}).get("open", {}).get("count") == 25,
         s.stdout + s.stderr)
    c.ok("profile: top repo is the dataset", prof.get("top_repos", [{}])[0].get("name") ==
         "datasets--hfshim--small", s.stdout)
    cache2 = os.path.join(w.tmp, "cache-from-profile")
    s = subprocess.run([os.environ["HFSHIM_WARM_BIN"], "--from-profile", profile, "--json"],
                       capture_output=True, text=True, env=w.env(False, HFSHIM_CACHE_DIR=cache2))
    try:
        warm = json.loads(s.stdout)
    except ValueError:
        warm = {}
    c.ok("hfshim-warm --from-profile fetches what the job read", warm.get("files") == 25 and
         warm.get("failed") == 0, s.stdout + s.stderr)


def large_blob(root):
    """The path (relative to root) of the largest blob: the generated weights file."""
    blobs = os.path.join(root, "models--hfshim--tiny-model", "blobs")
    name = max(os.listdir(blobs), key=lambda n: os.path.getsize(os.path.join(blobs, n)))
    return os.path.join("models--hfshim--tiny-model", "blobs", name)


def lazy_record(w, size):
    """(blocks present, blocks) from the presence record of the partial large file in the node
    cache; (None, None) if there is none."""
    for d, _, fs in os.walk(w.cache):
        for f in fs:
            if f.endswith(".blocks"):
                data = open(os.path.join(d, f), "rb").read()
                blocks = (size + (4 << 20) - 1) >> 22
                marks = data[-blocks:]
                return sum(1 for b in marks if b == 1), blocks
    return None, None


def complete_in_cache(w, size):
    return any(not f.endswith((".partial", ".blocks", ".lock")) and
               os.path.getsize(os.path.join(d, f)) == size
               for d, _, fs in os.walk(w.cache) for f in fs)


LAZY_READERS = r"""
import hashlib, mmap, os, shutil, subprocess, sys
path, how = sys.argv[1], sys.argv[2]
h = hashlib.sha256()
if how == "head":                      # a safetensors header: the first bytes only
    with open(path, "rb") as f:
        h.update(f.read(100))
elif how == "middle":                  # a seek into the middle
    with open(path, "rb") as f:
        f.seek(20 << 20)
        h.update(f.read(4096))
elif how == "sequential":
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(1 << 16):
            h.update(chunk)
elif how == "mmap":
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
        h.update(m[:])
elif how == "random":                  # every read call at block edges, the end, past EOF
    import random
    fd = os.open(path, os.O_RDONLY)
    size, block = os.fstat(fd).st_size, 4 << 20
    rnd = random.Random(7)
    offsets = [0, block - 1, block, block + 1, 2 * block - 3, size - block, size - 1, size,
               size + 10] + [rnd.randrange(size) for _ in range(20)]
    for off in offsets:
        h.update(os.pread(fd, 5000, off))
        os.lseek(fd, off, os.SEEK_SET)
        h.update(os.read(fd, 777))
        os.lseek(fd, off, os.SEEK_SET)
        bufs = [bytearray(100), bytearray(3000)]
        n = os.readv(fd, bufs)
        h.update(b"".join(bufs)[:n])
        bufs = [bytearray(4097)]
        n = os.preadv(fd, bufs, off)
        h.update(bytes(bufs[0][:n]))
        h.update(str(os.lseek(fd, 0, os.SEEK_CUR)).encode())
    h.update(str(os.lseek(fd, 0, os.SEEK_HOLE)).encode())   # dense: the size
    h.update(str(os.lseek(fd, 5, os.SEEK_DATA)).encode())
elif how == "threads":                 # two threads share one fd (and its offset)
    import threading
    fd = os.open(path, os.O_RDONLY)
    got, bad = [0], [0]
    def reader():
        while chunk := os.read(fd, 1 << 20):
            got[0] += len(chunk)
            bad[0] += b"\0" * 4096 in chunk     # random data has no zero pages: a hole
    ts = [threading.Thread(target=reader) for _ in range(2)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    print("bytes", got[0], "holes", bad[0])
    sys.exit(0)
elif how == "sendfile":                # shutil.copyfile uses sendfile on Linux
    out = sys.argv[3]
    shutil.copyfile(path, out)
    h.update(open(out, "rb").read())
elif how == "fromfile":                # numpy.fromfile reads with stdio fread
    import numpy
    h.update(numpy.fromfile(path, dtype=numpy.uint8).tobytes())
elif how == "exec":                    # the fd crosses exec into a new process image
    fd = os.open(path, os.O_RDONLY)
    os.set_inheritable(fd, True)
    code = ("import hashlib,os,sys; h=hashlib.sha256(); fd=int(sys.argv[1])\n"
            "while c := os.read(fd, 1 << 20): h.update(c)\n"
            "print(h.hexdigest())")
    r = subprocess.run([sys.executable, "-c", code, str(fd)], pass_fds=(fd,),
                       capture_output=True, text=True)
    print(r.stdout.strip() or r.stderr)
    sys.exit(0)
elif how == "stdin":                   # the fd as a child's stdin (subprocess: vfork + dup2)
    fd = os.open(path, os.O_RDONLY)
    r = subprocess.run(["sha256sum"], stdin=fd, capture_output=True, text=True)
    print(r.stdout.split()[0] if r.stdout else r.stderr)
    sys.exit(0)
elif how == "reopen":                  # the fd opened again by its /proc/self/fd path
    fd = os.open(path, os.O_RDONLY)
    again = os.open("/proc/self/fd/%d" % fd, os.O_RDONLY)
    h.update(os.pread(again, 1 << 20, 17 << 20))
    while c := os.read(again, 1 << 20):
        h.update(c)
elif how == "fork":                    # the child reads the parent's fd
    fd = os.open(path, os.O_RDONLY)
    pid = os.fork()
    if pid == 0:
        while c := os.read(fd, 1 << 20):
            h.update(c)
        print(h.hexdigest())
        os._exit(0)
    os.waitpid(pid, 0)
    sys.exit(0)
print(h.hexdigest())
"""

PARALLEL_READER = r"""
import hashlib, json, os, subprocess, sys, time
path, go, stat_bin = sys.argv[1], sys.argv[2], sys.argv[3]
while not os.path.exists(go):
    time.sleep(0.005)
h = hashlib.sha256()
with open(path, "rb", buffering=0) as f:
    while chunk := f.read(1 << 20):
        h.update(chunk)
snap = json.loads(subprocess.run([stat_bin, "--json", "--pid", str(os.getpid())],
                                 capture_output=True, text=True).stdout)
print(h.hexdigest(), snap["processes"][0]["counters"].get("fetch_bytes", 0))
"""


def group_lazy(w, c):
    """Lazy large files: a few bytes fetch a block or two; every read path returns exact bytes;
    fds survive fork and exec; 4 processes cold-reading one file fetch each byte once."""
    rel = large_blob(w.native)
    size = os.path.getsize(os.path.join(w.native, rel))
    native_file = os.path.join(w.native, rel)
    virtual_file = os.path.join(w.prefix, rel)

    def expect(how, *extra):
        n = w.run([PY, "-c", LAZY_READERS, native_file, how] + list(extra), w.native, False)
        v = w.run([PY, "-c", LAZY_READERS, virtual_file, how] + list(extra), w.prefix, True)
        c.ok("lazy %s read runs" % how, n.returncode == 0 and v.returncode == 0,
             n.stderr.decode()[-1500:] + v.stderr.decode()[-1500:])
        c.same("lazy %s read is exact" % how, n.stdout.decode(), v.stdout.decode())

    def cold():
        shutil.rmtree(w.cache, ignore_errors=True)

    cold()
    expect("head")
    present, blocks = lazy_record(w, size)
    c.ok("reading 100 bytes of a %d MiB file fetches at most 2 of %s blocks" % (size >> 20, blocks),
         present is not None and 1 <= present <= 2, "present=%s" % present)
    c.ok("the file is not complete in the cache after a header read",
         not complete_in_cache(w, size))
    expect("middle")
    present2, _ = lazy_record(w, size)
    c.ok("a read in the middle adds its block(s) only",
         present2 is not None and present2 <= present + 2, "present=%s" % present2)
    expect("sequential")
    c.ok("a whole sequential read completes (promotes) the cache file",
         complete_in_cache(w, size) and lazy_record(w, size)[0] is None)
    for how in ("random", "threads", "mmap", "fromfile", "exec", "fork", "stdin", "reopen"):
        cold()
        expect(how)
    cold()
    expect("sendfile", os.path.join(w.tmp, "copy.bin"))
    for name, cmd in (("cat | sha256sum", "cat '%s' | sha256sum"),
                      ("cp (copy_file_range)", "cp '%s' " + w.tmp + "/cp.bin && sha256sum < " +
                       w.tmp + "/cp.bin"),
                      ("dd with skip", "dd if='%s' bs=1M skip=7 count=3 status=none | sha256sum"),
                      ("stdin of a program (stdio)", "sha256sum < '%s'"),
                      ("reopened as /dev/fd/3", "exec 3<'%s'; cat /dev/fd/3 | sha256sum")):
        cold()
        n = w.run(["sh", "-c", cmd % native_file], w.native, False)
        v = w.run(["sh", "-c", cmd % virtual_file], w.prefix, True)
        c.same("lazy " + name, n.stdout.decode(), v.stdout.decode() + v.stderr.decode())

    cold()
    go = os.path.join(w.tmp, "go")
    stat_bin = os.environ["HFSHIM_STAT_BIN"]
    env = w.env(True, XDG_RUNTIME_DIR=os.path.join(w.tmp, "runtime"))
    os.makedirs(env["XDG_RUNTIME_DIR"], exist_ok=True)
    procs = [subprocess.Popen([PY, "-c", PARALLEL_READER, virtual_file, go, stat_bin], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    time.sleep(0.5)
    open(go, "w").close()
    outs = [p.communicate(timeout=300) for p in procs]
    want = subprocess.run(["sha256sum", native_file], capture_output=True,
                          text=True).stdout.split()[0]
    digests = [o[0].decode().split()[0] if o[0] else o[1].decode()[-500:] for o in outs]
    fetched = sum(int(o[0].decode().split()[1]) for o in outs if o[0])
    c.ok("4 processes cold-reading one file all read it exactly", digests == [want] * 4,
         str(digests))
    c.ok("... and transfer each byte once (%d of %d bytes fetched)" % (fetched, size),
         fetched == size, str([o[0].decode() for o in outs]))


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


GROUPS = {"stats": group_stats, "lazy": group_lazy, "node": group_node, "tree": group_tree, "coreutils": group_coreutils, "archive": group_archive,
          "torch": group_torch, "errors": group_errors, "processes": group_processes,
          "failures": group_failures}


def main():
    group, push, lib = sys.argv[1], sys.argv[2], sys.argv[3]
    os.environ["HFSHIM_PUSH_BIN"] = push
    tools = os.path.dirname(push)
    os.environ.setdefault("HFSHIM_WARM_BIN", os.path.join(tools, "hfshim-warm"))
    os.environ.setdefault("HFSHIM_STAT_BIN", os.path.join(tools, "stat", "hfshim-stat"))
    world = World(push, lib, large_mb=40) if group == "lazy" else World(push, lib)
    checks = Checks()
    try:
        GROUPS[group](world, checks)
    finally:
        world.close()
    checks.exit()


if __name__ == "__main__":
    main()
