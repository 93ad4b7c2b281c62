#include "jail/environment.h"

#include <unistd.h>

#include <cstdlib>

namespace wj::jail {

std::vector<std::string> SandboxEnvironment() {
  return {
      "PATH=/usr/bin:/bin",
      "HOME=/tmp",
      "TMPDIR=/tmp",
      "LANG=C.UTF-8",
      "TZ=UTC",
      "USER=sandbox",
      "LOGNAME=sandbox",
      // BLAS and OpenMP pools would start threads in the zygote (which must
      // stay single-threaded to fork safely) and oversubscribe a sandbox.
      "OPENBLAS_NUM_THREADS=1",
      "OMP_NUM_THREADS=1",
      "MKL_NUM_THREADS=1",
      "NUMEXPR_NUM_THREADS=1",
      "NUMEXPR_MAX_THREADS=1",
  };
}

namespace {
// Whether the environment is exactly `env`, entry for entry.
bool EnvironmentIs(const std::vector<std::string>& env) {
  if (environ == nullptr) return env.empty();  // after clearenv()
  size_t n = 0;
  for (char** entry = environ; *entry != nullptr; ++entry, ++n)
    if (n >= env.size() || env[n] != *entry) return false;
  return n == env.size();
}
}  // namespace

Status ResetEnvironment(const std::vector<std::string>& env) {
  // A zygote's child already has it (the zygote set it once, for all of
  // them): rewriting it would only copy the zygote's pages that hold it.
  if (EnvironmentIs(env)) return Status::Ok();
  if (::clearenv() != 0) return Status::Error("clearenv() failed");
  for (const std::string& entry : env) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    if (::setenv(entry.substr(0, eq).c_str(), entry.c_str() + eq + 1, 1) != 0)
      return Status::Errno("setenv(" + entry.substr(0, eq) + ")");
  }
  return Status::Ok();
}

}  // namespace wj::jail
