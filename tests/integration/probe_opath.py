"""open(O_PATH | O_NOFOLLOW) of a snapshot file's symlink: an fd on the link itself, whose fstat,
readlinkat(fd, "") and /proc/self/fd name are the link's; the calls it refuses refuse alike.

  probe_opath.py ROOT
"""

import ctypes
import errno
import os
import stat
import sys

root = sys.argv[1]
snap_dir = os.path.join(root, "models--hfshim--tiny-model", "snapshots")
cfg = os.path.join(snap_dir, sorted(os.listdir(snap_dir))[0], "config.json")
libc = ctypes.CDLL(None, use_errno=True)


def show(name, f):
    try:
        print(name, f())
    except OSError as e:
        print(name, "ERR", errno.errorcode[e.errno])


def readlinkat_empty(fd):
    buf = ctypes.create_string_buffer(4096)
    n = libc.readlinkat(fd, b"", buf, len(buf))
    if n < 0:
        raise OSError(ctypes.get_errno(), "readlinkat")
    return buf.raw[:n].decode()


fd = os.open(cfg, os.O_PATH | os.O_NOFOLLOW)
s = os.fstat(fd)
print("fstat", stat.filemode(s.st_mode), s.st_size, s.st_nlink, int(s.st_mtime))
show("same inode as lstat", lambda: s.st_ino == os.lstat(cfg).st_ino)
show("readlinkat(fd, '')", lambda: readlinkat_empty(fd))
show("/proc/self/fd", lambda: os.readlink("/proc/self/fd/%d" % fd).replace(root, "ROOT"))
show("read", lambda: os.read(fd, 1))
show("inheritable", lambda: os.get_inheritable(fd))
show("with O_DIRECTORY", lambda: os.open(cfg, os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY))
show("O_NOFOLLOW without O_PATH", lambda: os.open(cfg, os.O_RDONLY | os.O_NOFOLLOW))
show("O_PATH alone follows", lambda: os.fstat(os.open(cfg, os.O_PATH)).st_size)
os.close(fd)
