"""FUSE peers over the same s3rver: rclone mount and s3fs, when installed.

Both need the hub tree as plain objects (one object per file, symlinks copied as files), so the
tree is uploaded once with `rclone copy --copy-links` under <bucket>/plain/. Facts about running
them here: shared/PEERS.md.
"""

import os
import shutil
import subprocess
import urllib.parse

from macro.configs import Fuse
from macro.servers import BUCKET, KEY, FuseMount


def _rclone_env(s3, workdir):
    conf = os.path.join(workdir, "rclone.conf")
    with open(conf, "w") as f:
        f.write("[s3rver]\ntype = s3\nprovider = Other\naccess_key_id = %s\n"
                "secret_access_key = %s\nendpoint = %s\nforce_path_style = true\n"
                "region = us-east-1\n" % (KEY, KEY, s3.endpoint))
    env = dict(os.environ)
    env.pop("AWS_CA_BUNDLE", None)  # rclone 1.60 refuses to start with it on plain HTTP
    env["RCLONE_CONFIG"] = conf
    return env


def _put_directory_markers(s3, src, prefix):
    """Zero-byte "<dir>/" objects for every directory of `src`: s3rver's delimiter listing never
    descends beneath a common prefix (PEERS.md), so without markers FUSE clients cannot see a
    directory whose objects are all deeper down. One curl process, PUTs chained with --next."""
    keys = ["%s/%s/" % (prefix, os.path.relpath(d, src)) for d, _, _ in os.walk(src) if d != src]
    cmd = ["curl"]
    for i, key in enumerate(keys):
        cmd += (["--next"] if i else []) + [
            "-sf", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "%s:%s" % (KEY, KEY),
            "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T", "/dev/null", "-o", "/dev/null",
            "%s/%s/%s" % (s3.endpoint, BUCKET, urllib.parse.quote(key))]
    if keys:
        subprocess.check_call(cmd)


def add_fuse_peers(s3, src, workdir):
    """Returns Fuse configurations for the installed peers (possibly none)."""
    peers = []
    if not shutil.which("rclone") or not shutil.which("fusermount3"):
        print("compare.py: rclone/fuse3 not installed (apt-get install rclone s3fs fuse3); "
              "FUSE rows skipped")
        return peers
    env = _rclone_env(s3, workdir)
    subprocess.check_call(["rclone", "copy", "--copy-links", "--transfers", "16", src,
                           "s3rver:%s/plain" % BUCKET], env=env)
    _put_directory_markers(s3, src, "plain")
    mnt = os.path.join(workdir, "mnt-rclone")
    cache = os.path.join(workdir, "cache-rclone")
    peers.append(Fuse(FuseMount(
        "rclone mount", lambda: ["rclone", "mount", "s3rver:%s/plain" % BUCKET, mnt,
                                 "--read-only", "--vfs-cache-mode", "full", "--cache-dir", cache],
        mnt, cache, env), server=s3))
    if shutil.which("s3fs"):
        passwd = os.path.join(workdir, "s3fs.passwd")
        with open(passwd, "w") as f:
            f.write("%s:%s\n" % (KEY, KEY))
        os.chmod(passwd, 0o600)
        mnt2 = os.path.join(workdir, "mnt-s3fs")
        cache2 = os.path.join(workdir, "cache-s3fs")
        peers.append(Fuse(FuseMount(
            "s3fs", lambda: ["s3fs", BUCKET, mnt2, "-f", "-o",
                             "ro,url=%s,use_path_request_style,passwd_file=%s" % (s3.endpoint,
                                                                                passwd),
                             "-o", "use_cache=%s" % cache2],
            mnt2, cache2), "plain", server=s3))
    return peers


def add_local_fuse_peer(src, workdir):
    """rclone mount of the native tree itself: the cost of FUSE alone, no object store."""
    if not shutil.which("rclone") or not shutil.which("fusermount3"):
        return []
    env = dict(os.environ)
    env.pop("AWS_CA_BUNDLE", None)
    env["RCLONE_CONFIG"] = os.path.join(workdir, "rclone-local.conf")
    open(env["RCLONE_CONFIG"], "w").close()
    mnt = os.path.join(workdir, "mnt-rclone-local")
    cache = os.path.join(workdir, "cache-rclone-local")
    return [Fuse(FuseMount(
        "rclone mount(local)", lambda: ["rclone", "mount", src, mnt, "--read-only",
                                         "--copy-links", "--cache-dir", cache],
        mnt, cache, env))]
