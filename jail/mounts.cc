#include "jail/mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include <algorithm>

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

namespace wj::jail {

namespace {

bool Exists(const std::string& path, bool* is_dir) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  *is_dir = S_ISDIR(st.st_mode);
  return true;
}

// True when `inner` is `outer` or below it.
bool Within(const std::string& inner, const std::string& outer) {
  return inner == outer || (inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 &&
                            inner[outer.size()] == '/');
}

Status MakeDirs(const std::string& path) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) return Status::Errno("mkdir(" + partial + ")");
  }
  return Status::Ok();
}

Status MakeFile(const std::string& path, const std::string& content = "") {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Errno("open(" + path + ", O_CREAT)");
  ssize_t n = content.empty() ? 0 : ::write(fd, content.data(), content.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(content.size())) return Status::Errno("write(" + path + ")", err);
  return Status::Ok();
}

// Flags a bind remount must repeat: a mount inherited from a more privileged
// namespace has its nosuid/nodev/noexec and atime flags locked, and a remount
// that differs in them fails with EPERM.
unsigned long LockedFlags(const std::string& source) {
  struct statvfs sv;
  unsigned long flags = 0;
  if (::statvfs(source.c_str(), &sv) != 0) return flags;
  if (sv.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  else if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  else flags |= MS_STRICTATIME;
  if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  return flags;
}

Status BindReadOnly(const std::string& source, const std::string& target, bool is_file) {
  if (is_file) {
    WJ_RETURN_IF_ERROR(MakeDirs(target.substr(0, target.rfind('/'))));
    WJ_RETURN_IF_ERROR(MakeFile(target));
  } else {
    WJ_RETURN_IF_ERROR(MakeDirs(target));
  }
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return Status::Errno("mount(" + source + ", " + target + ", MS_BIND)");
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | LockedFlags(source);
  if (::mount(nullptr, target.c_str(), nullptr, flags, nullptr) != 0)
    return Status::Errno("mount(" + target + ", MS_REMOUNT|MS_BIND|MS_RDONLY)");
  return Status::Ok();
}

Status BindDevice(const std::string& root, const char* name) {
  std::string source = std::string("/dev/") + name;
  std::string target = root + "/dev/" + name;
  WJ_RETURN_IF_ERROR(MakeFile(target));
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0)
    return Status::Errno("mount(" + source + ", " + target + ", MS_BIND)");
  // Read-only: the node is the host's own inode, and a writable mount let a
  // script set its times (utime), changing the host's /dev/null and giving
  // sandboxes running at once a channel between them. Reading and writing
  // the device itself do not need a writable mount. Not nodev: it must open.
  if (::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC | LockedFlags(target),
              nullptr) != 0)
    return Status::Errno("mount(" + target + ", MS_REMOUNT|MS_RDONLY)");
  return Status::Ok();
}

Status MountTmp(const JailPolicy& policy, const std::string& target, uint64_t tmp_bytes) {
  WJ_RETURN_IF_ERROR(MakeDirs(target));
  // Inodes are capped with the size so a script cannot pin kernel memory with
  // millions of empty files.
  uint64_t inodes = std::max<uint64_t>(1024, tmp_bytes / 4096);
  std::string options = "size=" + std::to_string(tmp_bytes) + ",nr_inodes=" + std::to_string(inodes) +
                        ",mode=0700,uid=" + std::to_string(policy.sandbox_uid) +
                        ",gid=" + std::to_string(policy.sandbox_gid);
  unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (::mount("tmpfs", target.c_str(), "tmpfs", flags | MS_NOSYMFOLLOW, options.c_str()) == 0) return Status::Ok();
  // nosymfollow came with Linux 5.10; older kernels refuse the flag.
  if (errno == EINVAL && ::mount("tmpfs", target.c_str(), "tmpfs", flags, options.c_str()) == 0) return Status::Ok();
  return Status::Errno("mount(tmpfs, " + target + ", " + options + ")");
}

Status MountDev(const std::string& root) {
  std::string dev = root + "/dev";
  WJ_RETURN_IF_ERROR(MakeDirs(dev));
  if (::mount("tmpfs", dev.c_str(), "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,nr_inodes=64,mode=0755") != 0)
    return Status::Errno("mount(tmpfs, " + dev + ")");
  for (const char* name : {"null", "zero", "full", "random", "urandom"}) WJ_RETURN_IF_ERROR(BindDevice(root, name));
  const std::pair<const char*, const char*> links[] = {
      {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
  for (const auto& [to, name] : links) {
    std::string path = dev + "/" + name;
    if (::symlink(to, path.c_str()) != 0) return Status::Errno("symlink(" + std::string(to) + ", " + path + ")");
  }
  if (::mount(nullptr, dev.c_str(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, nullptr) != 0)
    return Status::Errno("mount(" + dev + ", MS_REMOUNT|MS_RDONLY)");
  return Status::Ok();
}

// Host-wide /proc entries with nothing a script needs: the host's boot
// command line and boot id, kernel memory and keys, timers and scheduler
// state of every CPU, hardware lists. Masked the way container runtimes mask
// them: a file by /dev/null, a directory by an empty read-only tmpfs.
constexpr const char* kMaskedProcEntries[] = {
    "cmdline",    "sys/kernel/random/boot_id", "bootconfig", "config.gz", "kcore",       "keys",  "key-users",
    "timer_list", "timer_stats",               "sched_debug", "latency_stats", "acpi", "asound", "scsi",
    "driver",     "bus"};

Status MaskProcEntries(const std::string& root) {
  const std::string null = root + "/dev/null";
  // Not nodev: the mask is the device node itself, and must open.
  const unsigned long null_flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | LockedFlags(null);
  for (const char* entry : kMaskedProcEntries) {
    std::string path = root + "/proc/" + entry;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;  // not in this kernel
    if (S_ISDIR(st.st_mode)) {
      if (::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=4k,nr_inodes=2,mode=0555") != 0)
        return Status::Errno("mount(tmpfs, " + path + ", MS_RDONLY)");
      continue;
    }
    if (::mount(null.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return Status::Errno("mount(" + null + ", " + path + ", MS_BIND)");
    if (::mount(nullptr, path.c_str(), nullptr, null_flags, nullptr) != 0)
      return Status::Errno("mount(" + path + ", MS_REMOUNT|MS_BIND|MS_RDONLY)");
  }
  return Status::Ok();
}

Status WriteEtc(const JailPolicy& policy, const std::string& root) {
  WJ_RETURN_IF_ERROR(MakeDirs(root + "/etc"));
  std::string uid = std::to_string(policy.sandbox_uid), gid = std::to_string(policy.sandbox_gid);
  WJ_RETURN_IF_ERROR(MakeFile(root + "/etc/passwd", "sandbox:x:" + uid + ":" + gid + ":sandbox:/tmp:/nonexistent\n"));
  WJ_RETURN_IF_ERROR(MakeFile(root + "/etc/group", "sandbox:x:" + gid + ":\n"));
  WJ_RETURN_IF_ERROR(MakeFile(root + "/etc/hostname", policy.hostname + "\n"));
  WJ_RETURN_IF_ERROR(MakeFile(root + "/etc/hosts", "127.0.0.1 localhost " + policy.hostname + "\n"));
  return Status::Ok();
}

}  // namespace

std::vector<BindMount> ResolveBindMounts(const std::vector<std::string>& extra_dirs) {
  std::vector<std::string> wanted = extra_dirs;
  for (const char* dir : {"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/aarch64-linux-gnu",
                          "/usr/share/zoneinfo", "/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime",
                          "/etc/ssl/certs"})
    wanted.emplace_back(dir);
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());

  std::vector<BindMount> binds;
  for (const std::string& path : wanted) {
    if (path.empty() || path[0] != '/') continue;
    bool is_dir = false;
    if (!Exists(path, &is_dir)) continue;
    // A directory already covered by a bind of one of its parents is skipped.
    bool covered = std::any_of(binds.begin(), binds.end(), [&](const BindMount& b) {
      return !b.is_file && Within(path, b.target);
    });
    if (covered) continue;
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) continue;
    binds.push_back(BindMount{resolved, path, !is_dir});
  }
  return binds;
}

Status BuildRoot(const JailPolicy& policy, uint64_t tmp_bytes) {
  // Nothing mounted here may propagate back to the host.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return Status::Errno("mount(/, MS_REC|MS_PRIVATE)");
  const std::string& root = policy.staging_dir;
  if (::mount("tmpfs", root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755") != 0)
    return Status::Errno("mount(tmpfs, " + root + ")");

  for (const BindMount& bind : policy.binds) WJ_RETURN_IF_ERROR(BindReadOnly(bind.source, root + bind.target, bind.is_file));
  // Debian merged /usr: /lib and /lib64 are links into it, and ld.so.cache
  // names libraries by those paths.
  for (const char* name : {"lib", "lib64", "bin"}) {
    std::string path = root + "/" + name;
    std::string to = std::string("usr/") + name;
    if (::symlink(to.c_str(), path.c_str()) != 0 && errno != EEXIST) return Status::Errno("symlink(" + to + ", " + path + ")");
  }
  WJ_RETURN_IF_ERROR(WriteEtc(policy, root));
  WJ_RETURN_IF_ERROR(MountTmp(policy, root + "/tmp", tmp_bytes));
  WJ_RETURN_IF_ERROR(MountDev(root));
  WJ_RETURN_IF_ERROR(MakeDirs(root + "/proc"));
  if (policy.mount_proc) {
    if (::mount("proc", (root + "/proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, nullptr) != 0)
      return Status::Errno("mount(proc, " + root + "/proc)");
    WJ_RETURN_IF_ERROR(MaskProcEntries(root));
  }
  if (::mount(nullptr, root.c_str(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0)
    return Status::Errno("mount(" + root + ", MS_REMOUNT|MS_RDONLY)");

  // pivot_root(".", ".") stacks the old root on top of the new one; detaching
  // "." then removes the old root without needing a directory to park it in.
  if (::chdir(root.c_str()) != 0) return Status::Errno("chdir(" + root + ")");
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return Status::Errno("pivot_root(., .)");
  if (::umount2(".", MNT_DETACH) != 0) return Status::Errno("umount2(., MNT_DETACH)");
  if (::chdir("/tmp") != 0) return Status::Errno("chdir(/tmp)");
  return Status::Ok();
}

}  // namespace wj::jail
