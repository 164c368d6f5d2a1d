"""Prints everything Python can observe of a tree, relative to ROOT, in a stable order.
Used natively and under LD_PRELOAD; the two outputs must be identical."""

import glob
import hashlib
import mmap
import os
import pathlib
import stat
import sys

root = sys.argv[1]


def rel(p):
    return os.path.relpath(p, root)


def describe(p, st):
    kind = stat.filemode(st.st_mode)
    size = st.st_size if not stat.S_ISDIR(st.st_mode) else "-"
    return "%s %s %s nlink=%d mtime_ns=%d" % (kind, size, oct(st.st_mode), st.st_nlink,
                                               st.st_mtime_ns)


for dirpath, dirnames, filenames in os.walk(root):
    dirnames.sort()
    print("DIR", rel(dirpath), describe(dirpath, os.lstat(dirpath)))
    for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
        p = os.path.join(dirpath, name)
        lst = os.lstat(p)
        line = ["ENT", rel(p), describe(p, lst)]
        if stat.S_ISLNK(lst.st_mode):
            line.append("-> " + os.readlink(p))
            line.append("real=" + rel(os.path.realpath(p)))
            line.append("samefile=%s" % os.path.samefile(p, os.path.realpath(p)))
        st = os.stat(p)
        line.append("follow=" + describe(p, st))
        line.append("ino_stable=%s" % (os.stat(p).st_ino == st.st_ino))
        if stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                data = f.read()
                fst = os.fstat(f.fileno())
                fields = ("st_dev", "st_ino", "st_size", "st_mode", "st_nlink", "st_mtime_ns",
                          "st_ctime_ns", "st_uid", "st_gid", "st_blocks")
                line.append("fstat_eq=%s" % all(getattr(fst, k) == getattr(st, k)
                                                for k in fields))
            line.append("sha256=" + hashlib.sha256(data).hexdigest())
            if data:
                with open(p, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                    line.append("mmap_ok=%s" % (m[:] == data))
        print(" ".join(line))

for e in sorted(os.scandir(root), key=lambda e: e.name):
    print("SCANDIR", e.name, e.is_dir(), e.is_symlink(), e.inode() == os.lstat(e.path).st_ino)
for e in sorted(os.scandir(os.path.join(root, "models--hfshim--tiny-model", "snapshots")),
                key=lambda e: e.name):
    for c in sorted(os.scandir(e.path), key=lambda c: c.name):
        print("SCANDIR", rel(c.path), c.is_file(), c.is_symlink(), c.is_dir())
print("GLOB", sorted(rel(p) for p in glob.glob(os.path.join(root, "*", "snapshots", "*",
                                                            "*.json"))))
print("PATHLIB", sorted(str(p.relative_to(root)) for p in
                        pathlib.Path(root).glob("models--*/snapshots/*/**/*.bin")))
print("LISTDIR_FD", sorted(os.listdir(os.open(os.path.join(root, "models--solo"), os.O_RDONLY))))
print("EXISTS", os.path.exists(os.path.join(root, "models--solo", "nope")),
      os.path.isdir(os.path.join(root, "models--solo", "blobs")))

# Directory fds all the way down: os.fwalk opens each directory relative to its parent's fd,
# fstats it and lists it with scandir(fd); stats relative to the fd (dir_fd) too.
for dirpath, dirnames, filenames, dirfd in os.fwalk(root):
    dirnames.sort()
    st = os.fstat(dirfd)
    print("FWALK", rel(dirpath), sorted(dirnames), sorted(filenames), stat.filemode(st.st_mode),
          st.st_nlink, st.st_ino == os.lstat(dirpath).st_ino,
          [os.stat(n, dir_fd=dirfd, follow_symlinks=False).st_size for n in sorted(filenames)])
fd = os.open(os.path.join(root, "models--hfshim--tiny-model"), os.O_RDONLY | os.O_DIRECTORY)
print("SCANDIR_FD", sorted((e.name, e.is_dir(follow_symlinks=False), e.is_symlink(),
                            e.inode() == os.stat(e.name, dir_fd=fd, follow_symlinks=False).st_ino)
                           for e in os.scandir(fd)))
os.close(fd)
