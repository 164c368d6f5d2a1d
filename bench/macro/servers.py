"""Processes the macro benchmark starts: s3rver on loopback and FUSE peers (rclone, s3fs).

Every start returns an object with stop(); every process is started by us on 127.0.0.1 and
stopped by us. Nothing here talks to any other address.
"""

import os
import shutil
import socket
import subprocess
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUCKET = "bench"
KEY = "S3RVER"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)


class S3rver:
    """s3rver 3.7.1 from the repo's node_modules (scripts/setup.sh installs it)."""

    def __init__(self, workdir):
        binary = os.path.join(REPO, "node_modules", ".bin", "s3rver")
        if not os.path.exists(binary):
            raise RuntimeError("s3rver is not installed; run bash scripts/setup.sh")
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        data = os.path.join(workdir, "s3rver-data")
        os.makedirs(data, exist_ok=True)
        self.proc = subprocess.Popen(
            ["node", "--openssl-legacy-provider", binary, "-d", data, "-a", "127.0.0.1",
             "-p", str(self.port), "--silent", "--no-vhost-buckets",
             "--configure-bucket", BUCKET],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def ready():
            try:
                urllib.request.urlopen(self.endpoint + "/" + BUCKET, timeout=1)
                return True
            except Exception as e:  # any HTTP answer means it is up
                return hasattr(e, "code")

        wait_until(ready, 30, "s3rver")

    def env(self):
        return {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": KEY,
                "AWS_REGION": "us-east-1", "HFSHIM_S3_ENDPOINT": self.endpoint,
                "HFSHIM_S3_ADDRESSING": "path",
                # s3rver ignores If-None-Match; the benchmark is the only pusher of its bucket.
                "HFSHIM_S3_UNSAFE_PUT_IF_ABSENT": "1"}

    def usage(self):
        return _daemon_usage(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def _daemon_usage(pid):
    """(cpu seconds, peak RSS bytes) of a running daemon, from /proc."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        rss = 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    rss = int(line.split()[1]) * 1024
        return cpu, rss
    except OSError:
        return 0.0, 0


class FuseMount:
    """A FUSE client mounted at `mnt`, restartable for cold runs."""

    def __init__(self, name, argv_fn, mnt, cache_dir, env=None):
        self.name, self.argv_fn, self.mnt, self.cache_dir = name, argv_fn, mnt, cache_dir
        self.env = env
        self.proc = None
        self.mount()

    def mount(self):
        os.makedirs(self.mnt, exist_ok=True)
        os.makedirs(self.cache_dir, exist_ok=True)
        self.proc = subprocess.Popen(self.argv_fn(), env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_until(lambda: os.path.ismount(self.mnt), 30, self.name + " mount")

    def usage(self):
        return _daemon_usage(self.proc.pid)

    def unmount(self):
        subprocess.call(["fusermount3", "-u", "-z", self.mnt], stderr=subprocess.DEVNULL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def make_cold(self):
        self.unmount()
        shutil.rmtree(self.cache_dir, ignore_errors=True)
        drop_page_cache()
        self.mount()


def drop_page_cache():
    """Empties the kernel page cache if permitted. Returns True if it did."""
    try:
        subprocess.call(["sync"])
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False
