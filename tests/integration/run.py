#!/usr/bin/env python3
"""Integration tests: real programs under LD_PRELOAD against a pushed hub cache.

  run.py GROUP HFSHIM_PUSH LIBHFSHIM
GROUP: tree | coreutils | archive | torch | errors | processes | failures | stats | lazy | node
Differential groups run the same probe on the native tree and on the virtual one (an empty
prefix directory under LD_PRELOAD) and require identical output. The groups `lazy` and `node`
live in groups_lazy.py and groups_node.py.
"""

import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from groups_lazy import group_lazy  # noqa: E402
from groups_node import group_node  # noqa: E402
from harness import PY, Checks, World, differential  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def no_totals(out):
    # ls prints "total N" in allocated blocks, which depend on the file system: not compared.
    return "\n".join(l for l in out.splitlines() if not l.startswith("total "))


def group_tree(w, c):
    differential(w, c, "python os.walk/stat/scandir/realpath/sha256/mmap/glob",
                 [PY, os.path.join(HERE, "probe_tree.py"), "{root}"])
    differential(w, c, "open(O_PATH | O_NOFOLLOW) of a symlink",
                 [PY, os.path.join(HERE, "probe_opath.py"), "{root}"])


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
    # Under `ulimit -v` (clusters set it): the index is mapped at its size, not at the 1 TiB
    # it was built with, so it is still readable with 1 GiB of address space.
    differential(w, c, "sha256sum under ulimit -v", ["sh", "-c",
                 "ulimit -v 1048576 && cd {root} && "
                 "find . -type l -o -type f | sort | xargs -d '\\n' sha256sum"])


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
# readlink of the fd names the file it is open on, as the kernel would: the blob behind the
# snapshot path, or the directory.
dfd = os.open(snap, os.O_RDONLY)
print("fdlink-readlink", os.readlink("/proc/self/fd/%d" % fd) == os.path.realpath(f) and
      os.readlink("/dev/fd/%d" % dfd) == os.path.realpath(snap))
print("fdlink-realpath", os.path.realpath("/dev/fd/%d" % fd) == os.path.realpath(f))
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
              "fdlink-stat": "True", "fdlink-reopen": "True",
              "fdlink-readlink": "True", "fdlink-realpath": "True", "open-rdonly-creat": "ok",
              "open-excl": "EEXIST", "open-excl-dir": "EEXIST", "open-creat-dir": "EISDIR",
              "nofollow-directory": "ENOTDIR", "link-new": "EROFS", "link-existing": "EEXIST",
              "link-out": "EXDEV", "unlink-missing": "EROFS", "rmdir-missing": "EROFS",
              "rename-missing": "EROFS", "readlink-size-0": "EINVAL", "mkstemp": "EROFS",
              "mkostemps": "EROFS", "mkdtemp": "EROFS", "pathconf": "ok"}
    got = dict(l.split(" ", 1) for l in out.splitlines() if " " in l)
    for k, v in expect.items():
        c.ok("errno " + k, got.get(k) == v, "got %r, want %r\n%s" % (got.get(k), v,
                                                                   r.stderr.decode()[-2000:]))
    # Under `ulimit -f` the node cache cannot hold the large file: the read fails with the
    # limit named, and the program is not killed by SIGXFSZ (exit 153 from the shell).
    model = os.path.join("{root}", "models--hfshim--tiny-model", "snapshots", "*",
                         "model.safetensors")
    r = w.run(["sh", "-c", "ulimit -f 1024 && cat %s > /dev/null; echo exit=$?" % model],
              w.prefix, True)
    c.ok("ulimit -f: a clear error, not SIGXFSZ", r.stdout.decode().strip() == "exit=1" and
         "ulimit -f" in r.stderr.decode(), r.stdout.decode() + r.stderr.decode()[-2000:])
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
def fork_from_thread(result):  # a fork from another thread than main, amid readers
    pid = os.fork()
    if pid == 0:
        os._exit(0 if all(digest(p) == want[p] for p in files[50:80]) else 3)
    _, st = os.waitpid(pid, 0)
    result.append(os.waitstatus_to_exitcode(st))
forked = []
ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
ts.append(threading.Thread(target=fork_from_thread, args=(forked,)))
[t.start() for t in ts]
[t.join() for t in ts]
print("fork-from-thread", forked == [0] and not bad)
out = subprocess.run(["sh", "-c", "cat '%s' | sha256sum" % files[3]], capture_output=True)
print("exec-chain", out.stdout.split()[0].decode() == want[files[3]])
# Many children (vfork, close_range, exec) in a row leave the parent's shim state intact, and
# each child reads the virtual tree; posix_spawn too (INTERPOSE.md section 6, test 9).
spawned_ok = all(
    hashlib.sha256(subprocess.run(["cat", files[i % 200]], capture_output=True,
                                  close_fds=True).stdout).hexdigest() == want[files[i % 200]]
    for i in range(300))
out_path = os.path.join(os.environ["PROBE_TMP"], "spawned.out")
pid = os.posix_spawn("/bin/cat", ["cat", files[11]], os.environ, file_actions=[
    (os.POSIX_SPAWN_OPEN, 1, out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)])
_, status = os.waitpid(pid, 0)
with open(out_path, "rb") as f:
    spawned_ok = spawned_ok and hashlib.sha256(f.read()).hexdigest() == want[files[11]]
print("many-children", spawned_ok and os.waitstatus_to_exitcode(status) == 0 and
      all(digest(p) == want[p] for p in files[:200]))
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


# `ulimit -n 256` and 240 files open at once (INTERPOSE.md section 6, test 17): the shim's own
# fds (index, cache directories, fetches) must leave the program its limit.
FD_LIMIT_PROBE = r"""
import hashlib, os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
snap = os.path.join(sys.argv[1], "datasets--hfshim--small", "snapshots")
paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(snap) for f in fs)[:240]
files = [open(p, "rb") for p in paths]
h = hashlib.sha256()
for f in files:
    h.update(f.read())
print(len(files), h.hexdigest())
"""


def group_processes(w, c):
    native = w.run([PY, "-c", FD_LIMIT_PROBE, "{root}"], w.native, False)
    virtual = w.run([PY, "-c", FD_LIMIT_PROBE, "{root}"], w.prefix, True,
                    HFSHIM_CACHE_DIR=os.path.join(w.tmp, "cache-fd-limit"))  # cold: fetches too
    c.ok("ulimit -n 256: 240 files open at once, cold", native.returncode == 0 and
         native.stdout.startswith(b"240 ") and virtual.stdout == native.stdout,
         "native %r\nvirtual %r\n%s" % (native.stdout, virtual.stdout,
                                         virtual.stderr.decode()[-2000:]))
    r = w.run([PY, "-c", PROC_PROBE, "{root}"], w.prefix, True, PROBE_TMP=w.tmp)
    got = dict(l.split(" ", 1) for l in r.stdout.decode().splitlines() if " " in l)
    for k, v in {"threads": "ok", "fork-child": "0", "fork-from-thread": "True",
                 "exec-chain": "True", "many-children": "True", "subprocess-cwd": "True", "after-closerange": "True",
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
