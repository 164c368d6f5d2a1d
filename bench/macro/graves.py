"""Setting a finished run's files aside instead of deleting them before the next measured run.

Deleting right before a measured run slows it down on this machine's root file system, which is
ext4 without a journal and mounted with `discard`:
- A file created after many deletions scans past the deleted inodes (fs/ext4/ialloc.c,
  recently_deleted). perf put that at 45% of a cold small-file run.
- Deleting a 1 GiB file sends the virtual disk a discard. The discard slowed the next 1 GiB
  fill to 400-485 MB/s against 485-563 with the file set aside: 4 rounds each, alternated with
  raw GETs, bench/README.md, twelfth session.
A node does not mass-delete its cache just before a cold read, so runs set their files aside
and everything is deleted once the measuring is over. If the disk is short of space, files are
deleted at once as before, and the caller is told.
"""

import os
import shutil

# Below this much free space, a set-aside would risk filling the disk during a run.
MIN_FREE_BYTES = 8 << 30


class Graves:
    """Holds the paths set aside, next to where they were (same file system: a rename)."""

    def __init__(self):
        self.paths = []

    def set_aside(self, path):
        """Moves `path` (a file or directory) out of the way. Returns False if it deleted it
        instead, because the file system had less than MIN_FREE_BYTES free."""
        if not os.path.lexists(path):
            return True
        if shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free < MIN_FREE_BYTES:
            _remove(path)
            return False
        grave = "%s-old-%d" % (path, len(self.paths))
        while os.path.lexists(grave):
            grave += "x"
        os.rename(path, grave)
        self.paths.append(grave)
        return True

    def bury(self):
        """Deletes everything set aside (after the measuring)."""
        for p in self.paths:
            _remove(p)
        self.paths = []


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        os.unlink(path)
