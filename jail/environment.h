// The script's environment: a fixed, minimal one, nothing of the server's.
#pragma once
#include <string>
#include <vector>

#include "util/status.h"

namespace wj::jail {

// The environment every script sees (also given to the zygote at exec).
std::vector<std::string> SandboxEnvironment();

// Replaces this process's C environment with `env`.
Status ResetEnvironment(const std::vector<std::string>& env);

}  // namespace wj::jail
