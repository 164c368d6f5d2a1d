"""Integration group `lazy`: large files opened before they are complete (reads, mmap, sendfile,
stdio and the other calls that may not see unfetched bytes), profiles and hfshim-warm of them.
Run through run.py."""

import os
import shutil
import subprocess
import time

from harness import PY

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
elif how == "splice":                  # splice(2) into a pipe, at offsets and at the fd's own
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    r, wr = os.pipe()
    for off in (0, (4 << 20) - 7, size - 3000, None):   # None: from the fd's offset
        n = os.splice(fd, wr, 60000, offset_src=off)
        h.update(os.read(r, n) if n else b"")
        h.update(str(os.lseek(fd, 0, os.SEEK_CUR)).encode())
elif how == "preadv2":                 # preadv2 (a flag set: glibc's preadv2, not preadv)
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    for off in (0, (8 << 20) - 5, size - 100, size + 1):
        bufs = [bytearray(3000), bytearray(70000)]
        n = os.preadv(fd, bufs, off, os.RWF_NOWAIT if off == size + 1 else os.RWF_HIPRI)
        h.update(b"".join(bufs)[:n])
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
    for how in ("random", "threads", "mmap", "fromfile", "exec", "fork", "stdin", "reopen",
                "splice", "preadv2"):
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
