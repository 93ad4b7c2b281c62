// The embedded CPython: one interpreter for the life of the process, an
// isolated configuration (no environment variables, no user site), Debian's
// /usr/bin/python3.11 as the program so the standard prefix is found, and the
// runner compiled into the binary.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace wj::embed {

class Interpreter {
 public:
  // Starts CPython and imports the runner. Throws std::runtime_error. A
  // zygote's interpreter (for_forking) takes its object arenas from one
  // region, for CollapseForForking (embed/heap.h) once it is warm.
  explicit Interpreter(bool for_forking = false);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // numpy, pandas and friends imported and exercised, then gc.freeze().
  void WarmUp();
  std::vector<std::string> SysPathDirs();
  std::string Versions();  // "python 3.11.2, numpy 1.24.2, pandas 1.5.3"
  void FlushStdio();

  // Zygote side, once, before the first fork: what every child starts with
  // (the sandbox's environment in os.environ, line-buffered stdio).
  void PrepareZygote(const std::vector<std::string>& environment);
  // Child side, after the jail: per-child state (random seeds), then the
  // script. Run returns the response document.
  void PrepareChild();
  // In an idle spare: the runner's own small pandas script, so the pages a
  // request touches are already copied before it arrives.
  void Prewarm();
  std::string Run(const std::string& script, const std::string& input_json, uint64_t max_result_bytes);

  // In a child of the zygote, before anything else of Python: CPython's own
  // re-initialisation (GIL, import lock, pending signals). The zygote calls
  // nothing of CPython around fork() on its side: it has one thread, forks
  // from C++ between two Python calls, runs no Python after start-up (so its
  // stdio buffers stay empty: FlushStdio once, at the end of start-up) and
  // has held the Python fork hooks back (runner.py), so PyOS_BeforeFork and
  // PyOS_AfterFork_Parent would only take and drop an import lock no other
  // thread can want, and copy pages of the interpreter's state doing it.
  static void AfterForkChild();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace wj::embed
