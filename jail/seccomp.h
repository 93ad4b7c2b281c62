// The seccomp allowlist: policy as data (the builder chain in seccomp.cc),
// compiled to BPF once in the zygote (and by `warmjail check` for its probe),
// loaded as the child's last step.
#pragma once
#include <linux/filter.h>

#include <string>
#include <vector>

#include "util/status.h"

namespace wj::jail {

// The errno a refused syscall returns: scripts see PermissionError.
inline constexpr int kRefusedErrno = 1;  // EPERM

// Compiles the allowlist for the native architecture. Syscalls of any other
// architecture, x32 included, kill the process.
Status CompileSeccompFilter(std::vector<sock_filter>* program);

// Child side: no_new_privs must already be set.
Status LoadSeccompFilter(const std::vector<sock_filter>& program);

// The names of the syscalls the allowlist admits, unconditionally or for
// some arguments (the unit tests check that no dangerous one is among them).
std::vector<std::string> AllowedSyscallNames();

}  // namespace wj::jail
