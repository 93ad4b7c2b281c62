#include <doctest/doctest.h>

#include <algorithm>

#include "jail/seccomp.h"

using namespace wj::jail;

TEST_CASE("the allowlist compiles to a BPF program") {
  std::vector<sock_filter> program;
  Status s = CompileSeccompFilter(&program);
  REQUIRE(s.ok());
  CHECK(program.size() > 50);
}

TEST_CASE("nothing dangerous is on the unconditional allowlist") {
  std::vector<std::string> allowed = AllowedSyscallNames();
  for (const char* name :
       {"mount", "umount2", "pivot_root", "chroot", "ptrace", "process_vm_readv", "process_vm_writev", "bpf",
        "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl",
        "add_key", "request_key", "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
        "reboot", "swapon", "swapoff", "unshare", "setns", "execve", "execveat", "personality", "clone3",
        "setuid", "setgid", "setresuid", "setgroups", "capset", "sethostname", "open_by_handle_at", "name_to_handle_at",
        "mknod", "mknodat", "fanotify_init", "move_mount", "fsopen", "fsmount", "open_tree", "pidfd_getfd"}) {
    CAPTURE(name);
    CHECK(std::find(allowed.begin(), allowed.end(), name) == allowed.end());
  }
}
