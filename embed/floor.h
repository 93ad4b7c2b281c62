// The cost floor of a sandbox: what one fork + exit + wait of the warm
// zygote costs with no jail and no Python work. scripts/bench divides every
// request's CPU time by it.
#pragma once

#include <string>

namespace wj::embed {

// Builds and warms the interpreter exactly as the zygote does, forks `count`
// children that exit at once, and prints one JSON line to stdout: wall time
// per fork (p50, p90), CPU time per fork (parent and children), minor faults
// per fork (parent and child separately), and the process's memory. Returns
// the exit code. With a script (a file's path), each child instead does a
// sandbox's Python work without the jail, HTTP or hand-over (after-fork
// re-initialisation, per-child state, the runner on the script): the part of
// a request's cost that no jail design removes.
int ForkFloorMain(unsigned count, const std::string& script_path = "");

}  // namespace wj::embed
