// Vfs on a hand-built index: routing, resolution, metadata, opens, EROFS decisions, listings,
// placeholders and refresh — everything the shim asks, without preloading.
#include "core/vfs/vfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/index/index_writer.h"
#include "tests/vfs/vfs_fixture.h"

namespace hfshim {
namespace {

std::string ReadAllFd(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  return out;
}

std::vector<std::string> ListAll(DirStream* s) {
  std::vector<std::string> names;
  DirItem item;
  while (true) {
    absl::StatusOr<bool> got = s->Next(&item);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok() || !*got) break;
    names.push_back(item.name);
  }
  return names;
}

TEST_F(VfsTest, RoutesRepoVirtualAndTheRestReal) {
  auto loc = vfs_->Locate(AT_FDCWD, P("models--org--m/refs/main"));
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->kind, Location::kVirtual);
  EXPECT_EQ(loc->rel, "models--org--m/refs/main");
  EXPECT_EQ(vfs_->Locate(AT_FDCWD, P(".locks/x"))->kind, Location::kReal);
  EXPECT_EQ(vfs_->Locate(AT_FDCWD, P("models--real--r"))->kind, Location::kReal);
  EXPECT_EQ(vfs_->Locate(AT_FDCWD, P(""))->kind, Location::kPrefixRoot);
  EXPECT_EQ(vfs_->Locate(AT_FDCWD, P("../x"))->kind, Location::kOutside);
  EXPECT_EQ(vfs_->Locate(AT_FDCWD, "/etc/passwd")->kind, Location::kOutside);
  // A real directory under the prefix, then ".." back into a repo.
  loc = vfs_->Locate(AT_FDCWD, P(".locks/../models--org--m/refs"));
  EXPECT_EQ(loc->kind, Location::kVirtual);
  EXPECT_EQ(loc->rel, "models--org--m/refs");
  // "//" and "/./" before the prefix.
  std::string messy = "/" + P("models--org--m/./refs");
  EXPECT_EQ(vfs_->Locate(AT_FDCWD, messy)->kind, Location::kVirtual);
}

TEST_F(VfsTest, StatMatchesTheIndex) {
  struct stat st;
  Outcome o = vfs_->Stat(AT_FDCWD, P("models--org--m/snapshots/rev1/config.json"), 0, &st);
  ASSERT_FALSE(o.passthrough);
  ASSERT_EQ(o.rc, 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(st.st_size, static_cast<off_t>(config_json_.size()));
  EXPECT_EQ(st.st_ino, InodeForPath("models--org--m/blobs/" + blob_hash_));  // follows to blob
  // The prefix directory's device: the repos are not mount points (find -xdev, du -x).
  struct stat root;
  ASSERT_EQ(stat(P("").c_str(), &root), 0);
  EXPECT_EQ(st.st_dev, root.st_dev);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(st.st_uid, geteuid());
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  EXPECT_EQ(st.st_blocks, 8);  // one 4 KiB block, as ext4 allocates

  o = vfs_->Stat(AT_FDCWD, P("models--org--m/snapshots/rev1/config.json"), AT_SYMLINK_NOFOLLOW,
                 &st);
  ASSERT_EQ(o.rc, 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_size, static_cast<off_t>(std::string("../../blobs/" + blob_hash_).size()));

  o = vfs_->Stat(AT_FDCWD, P("models--org--m/snapshots"), 0, &st);
  ASSERT_EQ(o.rc, 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_nlink, 3u);  // 2 + one subdirectory (rev1)

  o = vfs_->Stat(AT_FDCWD, P("models--org--m/blobs/big"), 0, &st);
  EXPECT_EQ(st.st_blocks, (100000 + 4095) / 4096 * 8);
  o = vfs_->Stat(AT_FDCWD, P("models--org--m/snapshots/rev1/config.json"), AT_SYMLINK_NOFOLLOW,
                 &st);
  // A target of 60 bytes or more does not fit in the inode and takes a block.
  const std::string target = "../../blobs/" + blob_hash_;
  EXPECT_EQ(st.st_blocks, target.size() >= 60 ? 8 : 0) << target;
}

TEST_F(VfsTest, StatErrorsAsTheKernel) {
  struct stat st;
  EXPECT_EQ(vfs_->Stat(AT_FDCWD, P("models--org--m/nope"), 0, &st).rc, -ENOENT);
  EXPECT_EQ(vfs_->Stat(AT_FDCWD, P("models--org--m/refs/main/x"), 0, &st).rc, -ENOTDIR);
  EXPECT_EQ(vfs_->Stat(AT_FDCWD, P("models--org--m/refs/main/"), 0, &st).rc, -ENOTDIR);
  EXPECT_EQ(vfs_->Stat(AT_FDCWD, P("models--org--m/snapshots/rev1/loop"), 0, &st).rc, -ELOOP);
  EXPECT_EQ(
      vfs_->Stat(AT_FDCWD, P("models--org--m/snapshots/rev1/loop"), AT_SYMLINK_NOFOLLOW, &st).rc,
      0);
  // Real things under the prefix pass through.
  EXPECT_TRUE(vfs_->Stat(AT_FDCWD, P("version.txt"), 0, &st).passthrough);
  EXPECT_TRUE(vfs_->Stat(AT_FDCWD, P("models--nothere--x"), 0, &st).passthrough);
  // A symlink out of the index resolves on the real disk.
  Outcome o = vfs_->Stat(AT_FDCWD, P("models--org--m/snapshots/rev1/escape"), 0, &st);
  ASSERT_TRUE(o.passthrough);
  EXPECT_EQ(o.real_path, tmp_ + "/outside.txt");
  // ".." from a repo is the real prefix root (whose st_nlink the shim then counts).
  o = vfs_->Stat(AT_FDCWD, P("models--org--m/.."), 0, &st);
  ASSERT_TRUE(o.passthrough);
  EXPECT_TRUE(o.union_root);
  EXPECT_EQ(o.real_path, prefix_path_);
}

// Close-on-exec is what the program asked for, whether the content was fetched by this open, was
// cached already, or is remembered; one open syscall each (no fcntl to adjust it).
TEST_F(VfsTest, OpenGivesCloseOnExecOnlyWhenAskedFor) {
  const std::string p = P("models--org--m/snapshots/rev1/config.json");
  for (int round = 0; round < 3; ++round) {  // miss, hit, remembered hit
    for (int cloexec : {0, O_CLOEXEC}) {
      Outcome o = vfs_->Open(AT_FDCWD, p, O_RDONLY | cloexec, 0);
      ASSERT_GE(o.rc, 0) << round;
      EXPECT_EQ((fcntl(o.rc, F_GETFD) & FD_CLOEXEC) != 0, cloexec != 0)
          << "round " << round << " cloexec " << cloexec;
      EXPECT_EQ(ReadAllFd(o.rc), config_json_);
      vfs_->NoteClose(o.rc);
      close(o.rc);
    }
  }
}

TEST_F(VfsTest, OpenReturnsARealFdOnTheContent) {
  Outcome o =
      vfs_->Open(AT_FDCWD, P("models--org--m/snapshots/rev1/config.json"), O_RDONLY | O_CLOEXEC, 0);
  ASSERT_FALSE(o.passthrough);
  ASSERT_GE(o.rc, 0);
  int fd = o.rc;
  EXPECT_EQ(ReadAllFd(fd), config_json_);
  EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  struct stat kernel, via_path;
  ASSERT_EQ(fstat(fd, &kernel), 0);
  EXPECT_TRUE(vfs_->Fstat(fd, &kernel));
  vfs_->Stat(AT_FDCWD, P("models--org--m/snapshots/rev1/config.json"), 0, &via_path);
  EXPECT_EQ(kernel.st_ino, via_path.st_ino);
  EXPECT_EQ(kernel.st_dev, via_path.st_dev);
  EXPECT_EQ(kernel.st_mode, via_path.st_mode);
  EXPECT_EQ(kernel.st_size, via_path.st_size);
  EXPECT_EQ(kernel.st_mtim.tv_nsec, via_path.st_mtim.tv_nsec);
  // dup keeps the identity; close forgets it.
  int fd2 = dup(fd);
  vfs_->NoteDup(fd, fd2);
  struct stat st2;
  fstat(fd2, &st2);
  EXPECT_TRUE(vfs_->Fstat(fd2, &st2));
  EXPECT_EQ(st2.st_ino, via_path.st_ino);
  vfs_->NoteClose(fd);
  close(fd);
  vfs_->NoteClose(fd2);
  close(fd2);
  struct stat stale;
  fstat(0, &stale);
  EXPECT_FALSE(vfs_->Fstat(0, &stale));
}

TEST_F(VfsTest, DotDotAboveThePrefixRootComesBackIn) {
  const std::string root = P("");
  const std::string name = root.substr(root.rfind('/') + 1);
  const std::string again = root + "/../" + name;
  EXPECT_EQ(vfs_->Locate(AT_FDCWD, again)->kind, Location::kPrefixRoot);
  auto loc = vfs_->Locate(AT_FDCWD, again + "/models--org--m/refs/main");
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->kind, Location::kVirtual);
  EXPECT_EQ(loc->rel, "models--org--m/refs/main");
  EXPECT_EQ(vfs_->Locate(AT_FDCWD, root + "/../x/../" + name + "/models--org--m")->kind,
            Location::kVirtual);
  EXPECT_EQ(vfs_->Locate(AT_FDCWD, root + "/../elsewhere")->kind, Location::kOutside);
  struct stat via, direct;
  ASSERT_EQ(vfs_->Stat(AT_FDCWD, again + "/models--org--m/snapshots/rev1/config.json", 0, &via).rc,
            0);
  ASSERT_EQ(vfs_->Stat(AT_FDCWD, P("models--org--m/snapshots/rev1/config.json"), 0, &direct).rc, 0);
  EXPECT_EQ(via.st_ino, direct.st_ino);
}

TEST_F(VfsTest, OpenErrors) {
  const std::string cfg = P("models--org--m/snapshots/rev1/config.json");
  EXPECT_EQ(vfs_->Open(AT_FDCWD, cfg, O_WRONLY, 0).rc, -EROFS);
  EXPECT_EQ(vfs_->Open(AT_FDCWD, cfg, O_RDWR, 0).rc, -EROFS);
  EXPECT_EQ(vfs_->Open(AT_FDCWD, cfg, O_RDONLY | O_TRUNC, 0).rc, -EROFS);
  // O_CREAT of an existing name creates nothing: a read open, as on a read-only file system.
  const int created = vfs_->Open(AT_FDCWD, cfg, O_RDONLY | O_CREAT, 0644).rc;
  EXPECT_GE(created, 0);
  if (created >= 0) close(created);
  EXPECT_EQ(vfs_->Open(AT_FDCWD, cfg, O_RDONLY | O_CREAT | O_EXCL, 0644).rc, -EEXIST);
  EXPECT_EQ(vfs_->Open(AT_FDCWD, P("models--org--m"), O_RDONLY | O_CREAT, 0644).rc, -EISDIR);
  EXPECT_EQ(vfs_->Open(AT_FDCWD, cfg, O_RDONLY | O_NOFOLLOW | O_DIRECTORY, 0).rc, -ENOTDIR);
  EXPECT_EQ(vfs_->Open(AT_FDCWD, P("models--org--m/new"), O_WRONLY | O_CREAT, 0644).rc, -EROFS);
  EXPECT_EQ(vfs_->Open(AT_FDCWD, P("models--org--m/x/new"), O_WRONLY | O_CREAT, 0644).rc, -ENOENT);
  EXPECT_EQ(vfs_->Open(AT_FDCWD, P("models--org--m"), O_TMPFILE | O_RDWR, 0644).rc, -EROFS);
  EXPECT_EQ(vfs_->Open(AT_FDCWD, cfg, O_RDONLY | O_DIRECTORY, 0).rc, -ENOTDIR);
  EXPECT_EQ(vfs_->Open(AT_FDCWD, cfg, O_RDONLY | O_NOFOLLOW, 0).rc, -ELOOP);
  EXPECT_EQ(vfs_->Open(AT_FDCWD, P("models--org--m/nope"), O_RDONLY, 0).rc, -ENOENT);
  EXPECT_EQ(vfs_->Open(AT_FDCWD, P("models--org--m/refs"), O_WRONLY, 0).rc, -EISDIR);
  // The real part of the union stays writable.
  EXPECT_TRUE(
      vfs_->Open(AT_FDCWD, P(".locks/models--org--m/a.lock"), O_CREAT | O_RDWR, 0644).passthrough);
}

TEST_F(VfsTest, StoreFailureIsEioNeverBytes) {
  cache_->fail_with_eio = true;
  EXPECT_EQ(vfs_->Open(AT_FDCWD, P("models--org--m/refs/main"), O_RDONLY, 0).rc, -EIO);
}

TEST_F(VfsTest, DirectoryOpensAsPlaceholderAndAtCallsResolveUnderIt) {
  Outcome o = vfs_->Open(AT_FDCWD, P("models--org--m/snapshots/rev1"), O_RDONLY | O_DIRECTORY, 0);
  ASSERT_GE(o.rc, 0);
  int dirfd = o.rc;
  struct stat st;
  ASSERT_EQ(fstat(dirfd, &st), 0);
  EXPECT_TRUE(vfs_->Fstat(dirfd, &st));
  EXPECT_EQ(st.st_ino, InodeForPath("models--org--m/snapshots/rev1"));
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  std::string rel;
  ASSERT_TRUE(vfs_->PlaceholderDir(dirfd, &rel));
  EXPECT_EQ(rel, "models--org--m/snapshots/rev1");
  // openat relative to the placeholder.
  Outcome f = vfs_->Open(dirfd, "config.json", O_RDONLY, 0);
  ASSERT_GE(f.rc, 0);
  EXPECT_EQ(ReadAllFd(f.rc), config_json_);
  close(f.rc);
  EXPECT_EQ(vfs_->Stat(dirfd, "sub/model.bin", 0, &st).rc, 0);
  EXPECT_EQ(st.st_size, 100000);
  // ".." climbing out of the repo lands on the real prefix root: a rewritten passthrough.
  Outcome up = vfs_->Stat(dirfd, "../../../version.txt", 0, &st);
  ASSERT_TRUE(up.passthrough);
  EXPECT_EQ(up.real_path, prefix_path_ + "/version.txt");
  // A dup'ed placeholder is the same directory (identity by inode, no table).
  int dup_fd = dup(dirfd);
  EXPECT_EQ(vfs_->Open(dup_fd, "config.json", O_RDONLY, 0).rc >= 0, true);
  close(dup_fd);
  close(dirfd);
}

TEST_F(VfsTest, ChdirIntoAVirtualDirectory) {
  char old[4096];
  ASSERT_NE(getcwd(old, sizeof(old)), nullptr);
  Outcome o = vfs_->Chdir(P("models--org--m/snapshots/rev1"));
  ASSERT_TRUE(o.passthrough);
  ASSERT_EQ(chdir(o.real_path.c_str()), 0);
  char kernel[4096];
  ASSERT_NE(getcwd(kernel, sizeof(kernel)), nullptr);
  std::string virt;
  ASSERT_TRUE(vfs_->VirtualCwd(kernel, &virt));
  EXPECT_EQ(virt, std::string(prefix_.real()) + "/models--org--m/snapshots/rev1");
  struct stat st;
  EXPECT_EQ(vfs_->Stat(AT_FDCWD, "config.json", 0, &st).rc, 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(config_json_.size()));
  ASSERT_EQ(chdir(old), 0);
  EXPECT_EQ(vfs_->Chdir(P("models--org--m/refs/main")).rc, -ENOTDIR);
}

TEST_F(VfsTest, ReadlinkAndRealpath) {
  std::string target;
  Outcome o = vfs_->Readlink(AT_FDCWD, P("models--org--m/snapshots/rev1/config.json"), &target);
  ASSERT_EQ(o.rc, static_cast<int>(target.size()));
  EXPECT_EQ(target, "../../blobs/" + blob_hash_);
  EXPECT_EQ(vfs_->Readlink(AT_FDCWD, P("models--org--m/refs/main"), &target).rc, -EINVAL);
  EXPECT_EQ(vfs_->Readlink(AT_FDCWD, P("models--org--m/nope"), &target).rc, -ENOENT);
  std::string real;
  o = vfs_->Realpath(P("models--org--m/snapshots/rev1/./sub/../config.json"), &real);
  ASSERT_EQ(o.rc, 0);
  EXPECT_EQ(real, std::string(prefix_.real()) + "/models--org--m/blobs/" + blob_hash_);
  EXPECT_EQ(vfs_->Realpath(P("models--org--m/snapshots/rev1/loop"), &real).rc, -ELOOP);
  EXPECT_TRUE(vfs_->Realpath(P("version.txt"), &real).passthrough);
}

TEST_F(VfsTest, AccessAndMutations) {
  const std::string cfg = P("models--org--m/snapshots/rev1/config.json");
  EXPECT_EQ(vfs_->Access(AT_FDCWD, cfg, R_OK, 0).rc, 0);
  EXPECT_EQ(vfs_->Access(AT_FDCWD, cfg, W_OK, 0).rc, -EROFS);
  EXPECT_EQ(vfs_->Access(AT_FDCWD, P("datasets--org--d/run.sh"), X_OK, 0).rc, 0);
  if (geteuid() != 0) {
    EXPECT_EQ(vfs_->Access(AT_FDCWD, cfg, X_OK, 0).rc, -EACCES);
  }
  EXPECT_EQ(vfs_->Access(AT_FDCWD, P("models--org--m/nope"), F_OK, 0).rc, -ENOENT);

  EXPECT_EQ(vfs_->Mutate(Mutation::kCreate, AT_FDCWD, P("models--org--m/refs")).rc, -EEXIST);
  EXPECT_EQ(vfs_->Mutate(Mutation::kCreate, AT_FDCWD, P("models--org--m/newdir")).rc, -EROFS);
  EXPECT_EQ(vfs_->Mutate(Mutation::kCreate, AT_FDCWD, P("models--org--m/a/b")).rc, -ENOENT);
  EXPECT_EQ(vfs_->Mutate(Mutation::kModify, AT_FDCWD, cfg).rc, -EROFS);
  EXPECT_EQ(vfs_->Mutate(Mutation::kModify, AT_FDCWD, P("models--org--m/nope")).rc, -ENOENT);
  EXPECT_EQ(vfs_->Mutate(Mutation::kReplace, AT_FDCWD, P("models--org--m/newname")).rc, -EROFS);
  // Removing: a read-only file system refuses before looking the name up.
  EXPECT_EQ(vfs_->Mutate(Mutation::kRemove, AT_FDCWD, cfg).rc, -EROFS);
  EXPECT_EQ(vfs_->Mutate(Mutation::kRemove, AT_FDCWD, P("models--org--m/nope")).rc, -EROFS);
  EXPECT_EQ(vfs_->Mutate(Mutation::kRemove, AT_FDCWD, P("models--org--m/a/b")).rc, -ENOENT);
  EXPECT_EQ(vfs_->Mutate(Mutation::kRemove, AT_FDCWD, cfg + "/x").rc, -ENOTDIR);
  EXPECT_TRUE(vfs_->Mutate(Mutation::kRemove, AT_FDCWD, P(".locks/x")).passthrough);
  EXPECT_TRUE(vfs_->Mutate(Mutation::kCreate, AT_FDCWD, P("models--new--repo")).passthrough);
  EXPECT_TRUE(vfs_->Mutate(Mutation::kModify, AT_FDCWD, P(".locks/x")).passthrough);
  EXPECT_EQ(vfs_->Probe(AT_FDCWD, cfg, true).rc, 0);
}

TEST_F(VfsTest, ListingEmitsDotsTypesInodesAndPages) {
  std::unique_ptr<DirStream> s;
  int fd = -1;
  Outcome o = vfs_->OpenDir(AT_FDCWD, P("datasets--org--d/data"), &s, &fd);
  ASSERT_EQ(o.rc, 0);
  ASSERT_GE(fd, 0);
  DirItem item;
  ASSERT_TRUE(*s->Next(&item));
  EXPECT_EQ(item.name, ".");
  EXPECT_EQ(item.ino, InodeForPath("datasets--org--d/data"));
  ASSERT_TRUE(*s->Next(&item));
  EXPECT_EQ(item.name, "..");
  EXPECT_EQ(item.ino, InodeForPath("datasets--org--d"));
  std::vector<std::string> names = ListAll(s.get());
  ASSERT_EQ(names.size(), 600u);  // more than two pages
  EXPECT_EQ(names.front(), "f0000.txt");
  EXPECT_EQ(names.back(), "f0599.txt");
  // seekdir/telldir by ordinal.
  ASSERT_TRUE(s->Seek(2 + 300).ok());
  ASSERT_TRUE(*s->Next(&item));
  EXPECT_EQ(item.name, "f0300.txt");
  EXPECT_EQ(item.type, DT_REG);
  EXPECT_EQ(item.ino, InodeForPath("datasets--org--d/data/f0300.txt"));
  close(fd);

  std::unique_ptr<DirStream> rev;
  ASSERT_EQ(vfs_->OpenDir(AT_FDCWD, P("models--org--m/snapshots/rev1"), &rev, &fd).rc, 0);
  std::vector<std::string> rev_names;
  while (true) {
    absl::StatusOr<bool> got = rev->Next(&item);
    if (!*got) break;
    if (item.name == "config.json") {
      EXPECT_EQ(item.type, DT_LNK);
    }
    if (item.name == "sub") {
      EXPECT_EQ(item.type, DT_DIR);
    }
    rev_names.push_back(item.name);
  }
  EXPECT_EQ(rev_names,
            (std::vector<std::string>{".", "..", "config.json", "escape", "loop", "sub"}));
  close(fd);

  std::unique_ptr<DirStream> empty;
  ASSERT_EQ(vfs_->OpenDir(AT_FDCWD, P("datasets--org--d/empty"), &empty, &fd).rc, 0);
  EXPECT_EQ(ListAll(empty.get()), (std::vector<std::string>{".", ".."}));
  close(fd);
  EXPECT_EQ(vfs_->OpenDir(AT_FDCWD, P("models--org--m/refs/main"), &empty, &fd).rc, -ENOTDIR);
  EXPECT_EQ(vfs_->OpenDir(AT_FDCWD, P("models--org--m/nope"), &empty, &fd).rc, -ENOENT);
  EXPECT_TRUE(vfs_->OpenDir(AT_FDCWD, P(".locks"), &empty, &fd).passthrough);
}

TEST_F(VfsTest, PrefixRootListsTheUnion) {
  std::unique_ptr<DirStream> s;
  int fd = -1;
  ASSERT_EQ(vfs_->OpenDir(AT_FDCWD, prefix_path_, &s, &fd).rc, 0);
  std::vector<std::string> names = ListAll(s.get());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", ".locks", "datasets--org--d",
                                             "models--org--m", "models--real--r", "version.txt"}));
  close(fd);
  // A repo present both in the index and on disk is listed once (the index shadows it).
  std::filesystem::create_directories(prefix_path_ + "/models--org--m");
  ASSERT_EQ(vfs_->OpenDir(AT_FDCWD, prefix_path_, &s, &fd).rc, 0);
  names = ListAll(s.get());
  EXPECT_EQ(std::count(names.begin(), names.end(), "models--org--m"), 1);
  close(fd);
}

// The prefix root is the real directory, but its st_nlink counts the union's subdirectories,
// as a local disk holding the repos would: a stat of it passes through (the caller's own call,
// every other field the kernel's), marked for CountUnionSubdirs, which fstat of an fd on it
// applies too.
TEST_F(VfsTest, PrefixRootCountsTheUnionsSubdirectories) {
  struct stat real, st;
  ASSERT_EQ(lstat(prefix_path_.c_str(), &real), 0);  // the kernel's (nothing is preloaded)
  for (int flags : {0, AT_SYMLINK_NOFOLLOW}) {
    Outcome o = vfs_->Stat(AT_FDCWD, prefix_path_, flags, &st);
    EXPECT_TRUE(o.passthrough && o.union_root && o.real_path.empty());
  }
  st = real;
  EXPECT_TRUE(vfs_->CountUnionSubdirs(&st));
  EXPECT_EQ(st.st_nlink, real.st_nlink + 2) << "datasets--org--d and models--org--m";
  struct statx stx;
  ASSERT_EQ(statx(AT_FDCWD, prefix_path_.c_str(), 0, STATX_BASIC_STATS, &stx), 0);
  EXPECT_TRUE(vfs_->CountUnionSubdirs(&stx));
  EXPECT_EQ(stx.stx_nlink, real.st_nlink + 2);
  std::unique_ptr<DirStream> s;
  int fd = -1;
  ASSERT_EQ(vfs_->OpenDir(AT_FDCWD, prefix_path_, &s, &fd).rc, 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_TRUE(vfs_->Fstat(fd, &st));
  EXPECT_EQ(st.st_nlink, real.st_nlink + 2);
  close(fd);
  // Another directory is left alone.
  ASSERT_EQ(lstat(tmp_.c_str(), &st), 0);
  const nlink_t other = st.st_nlink;
  EXPECT_FALSE(vfs_->CountUnionSubdirs(&st));
  EXPECT_EQ(st.st_nlink, other);
  // A real directory named as a repo of the index is one subdirectory, not two; a new real
  // directory is one more (the directory's ctime changed: nothing stale is remembered).
  std::filesystem::create_directories(prefix_path_ + "/models--org--m");
  std::filesystem::create_directories(prefix_path_ + "/models--new--n");
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(lstat(prefix_path_.c_str(), &st), 0);
    EXPECT_TRUE(vfs_->CountUnionSubdirs(&st));
    EXPECT_EQ(st.st_nlink, real.st_nlink + 3) << "models--new--n, models--org--m (real and "
                                                 "virtual) and datasets--org--d";
  }
}

TEST_F(VfsTest, RefreshPicksUpANewGeneration) {
  struct stat st;
  EXPECT_EQ(vfs_->Stat(AT_FDCWD, P("models--new--n/refs/main"), 0, &st).rc != 0 ||
                vfs_->Stat(AT_FDCWD, P("models--new--n/refs/main"), 0, &st).passthrough,
            true);
  // Hold a listing open across the switch.
  std::unique_ptr<DirStream> s;
  int fd = -1;
  ASSERT_EQ(vfs_->OpenDir(AT_FDCWD, P("models--org--m/refs"), &s, &fd).rc, 0);
  std::vector<TreeNode> tree = StandardTree();
  tree.push_back({"models--new--n/refs/main", EntryType::kFile, "rev9", 0644});
  source_.file = {BuildIndex(tree, 2), 2};
  Outcome o = vfs_->Stat(AT_FDCWD, P("models--new--n/refs/main"), 0, &st);
  ASSERT_FALSE(o.passthrough);
  EXPECT_EQ(o.rc, 0);
  EXPECT_EQ(st.st_size, 4);
  EXPECT_EQ(ListAll(s.get()), (std::vector<std::string>{".", "..", "main"}));
  close(fd);
}

TEST_F(VfsTest, NoIndexMeansEverythingPassesThrough) {
  FixedSource none;
  Vfs::Parts parts;
  parts.prefix = &prefix_;
  parts.placeholder_root = tmp_ + "/run2/dirs";
  parts.env = Env::Default();
  parts.source = &none;
  parts.cache = cache_.get();
  auto vfs = Vfs::Create(parts);
  ASSERT_TRUE(vfs.ok());
  struct stat st;
  EXPECT_TRUE((*vfs)->Stat(AT_FDCWD, P("models--org--m/refs/main"), 0, &st).passthrough);
  EXPECT_TRUE((*vfs)->Open(AT_FDCWD, P("models--org--m/refs/main"), O_RDONLY, 0).passthrough);
}

TEST_F(VfsTest, StatfsReportsTheCacheFileSystem) {
  Outcome o = vfs_->Statfs(P("models--org--m/refs/main"));
  ASSERT_TRUE(o.passthrough);
  EXPECT_EQ(o.real_path, tmp_ + "/cache");
  EXPECT_TRUE(vfs_->Statfs(P(".locks")).real_path.empty());
}

}  // namespace
}  // namespace hfshim

namespace hfshim {
namespace {

TEST_F(VfsTest, ForkChildReopensTheIndexAndReads) {
  struct stat st;
  ASSERT_EQ(vfs_->Stat(AT_FDCWD, P("models--org--m/refs/main"), 0, &st).rc, 0);
  vfs_->PrepareFork();
  pid_t pid = fork();
  if (pid == 0) {
    vfs_->ChildAfterFork();
    struct stat cst;
    bool ok = vfs_->Stat(AT_FDCWD, P("models--org--m/refs/main"), 0, &cst).rc == 0 &&
              cst.st_ino == st.st_ino;
    Outcome o = vfs_->Open(AT_FDCWD, P("models--org--m/refs/main"), O_RDONLY, 0);
    ok = ok && o.rc >= 0 && ReadAllFd(o.rc) == "rev1";
    _exit(ok ? 0 : 1);
  }
  vfs_->ParentAfterFork();
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(vfs_->Stat(AT_FDCWD, P("models--org--m/refs/main"), 0, &st).rc, 0);
}

TEST_F(VfsTest, ManyThreadsOpenAtOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        char rel[64];
        std::snprintf(rel, sizeof(rel), "datasets--org--d/data/f%04d.txt", (t * 50 + i) % 600);
        Outcome o = vfs_->Open(AT_FDCWD, P(rel), O_RDONLY | O_CLOEXEC, 0);
        if (o.rc < 0) continue;
        struct stat st;
        fstat(o.rc, &st);
        if (vfs_->Fstat(o.rc, &st) && ReadAllFd(o.rc).size() == static_cast<size_t>(st.st_size)) {
          ++good;
        }
        vfs_->NoteClose(o.rc);
        close(o.rc);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 16 * 50);
}

}  // namespace
}  // namespace hfshim
