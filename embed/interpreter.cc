#include "embed/interpreter.h"

#include <pybind11/embed.h>
#include <pybind11/stl.h>

#include "embed/heap.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <string_view>

namespace py = pybind11;

namespace wj::embed {

extern const std::string_view kRunnerSource;

struct Interpreter::State {
  std::unique_ptr<py::scoped_interpreter> guard;
  py::module_ runner;
  // numpy's global MT19937 state (uint32_t key[624]; int pos), checked by
  // the runner; null when numpy is absent or laid out otherwise.
  uint32_t* numpy_mt_key = nullptr;
};

namespace {
PyConfig IsolatedConfig() {
  PyConfig config;
  PyConfig_InitIsolatedConfig(&config);
  // Signal handlers as python3 installs them: SIGINT raises
  // KeyboardInterrupt; SIGPIPE and SIGXFSZ are ignored, so a full /tmp or a
  // closed pipe is an OSError, not a silent death.
  config.install_signal_handlers = 1;
  config.site_import = 1;
  config.parse_argv = 0;
  config.write_bytecode = 0;
  PyStatus status = PyConfig_SetString(&config, &config.program_name, L"/usr/bin/python3.11");
  if (PyStatus_Exception(status)) throw std::runtime_error("PyConfig_SetString(program_name) failed");
  return config;
}
}  // namespace

Interpreter::Interpreter(bool for_forking) : state_(std::make_unique<State>()) {
  // UTF-8 mode: stdio, open() and file names are UTF-8 whatever the locale,
  // as for python3 under C.UTF-8 (an isolated config leaves the C locale).
  PyPreConfig preconfig;
  PyPreConfig_InitIsolatedConfig(&preconfig);
  preconfig.utf8_mode = 1;
  PyStatus pre = Py_PreInitialize(&preconfig);
  if (PyStatus_Exception(pre)) throw std::runtime_error("Py_PreInitialize failed");
  if (for_forking) PlaceArenas();
  PyConfig config = IsolatedConfig();
  // add_program_dir_to_path false: pybind11 would otherwise put "" (the
  // working directory) first on sys.path, and a numpy.py or json.py wherever
  // the server was started would be imported into the zygote in place of the
  // real one (test_cli_serve: ModulesInTheWorkingDirectory).
  state_->guard = std::make_unique<py::scoped_interpreter>(&config, 0, nullptr, /*add_program_dir_to_path=*/false);
  PyObject* code = Py_CompileString(std::string(kRunnerSource).c_str(), "<warmjail runner>", Py_file_input);
  if (code == nullptr) throw py::error_already_set();
  PyObject* module = PyImport_ExecCodeModule("warmjail_runner", code);
  Py_DECREF(code);
  if (module == nullptr) throw py::error_already_set();
  state_->runner = py::reinterpret_steal<py::module_>(module);
}

Interpreter::~Interpreter() {
  state_->runner = py::module_();
  state_->guard.reset();
}

void Interpreter::WarmUp() { state_->runner.attr("warm_up")(); }

std::vector<std::string> Interpreter::SysPathDirs() {
  return state_->runner.attr("sys_path_dirs")().cast<std::vector<std::string>>();
}

std::string Interpreter::Versions() {
  py::module_ sys = py::module_::import("sys");
  std::string out = "python " + sys.attr("version").cast<std::string>().substr(0, 6);
  py::dict modules = sys.attr("modules");
  for (const char* name : {"numpy", "pandas"}) {
    if (modules.contains(name)) out += std::string(", ") + name + " " + modules[name].attr("__version__").cast<std::string>();
  }
  return out;
}

void Interpreter::FlushStdio() {
  try {
    py::module_ sys = py::module_::import("sys");
    sys.attr("stdout").attr("flush")();
    sys.attr("stderr").attr("flush")();
  } catch (const py::error_already_set&) {
  }
}

void Interpreter::PrepareZygote(const std::vector<std::string>& environment) {
  py::dict env;
  for (const std::string& entry : environment) {
    size_t eq = entry.find('=');
    if (eq != std::string::npos) env[py::str(entry.substr(0, eq))] = py::str(entry.substr(eq + 1));
  }
  state_->runner.attr("prepare_zygote")(env);
  auto address = state_->runner.attr("numpy_legacy_state_address")().cast<uintptr_t>();
  state_->numpy_mt_key = reinterpret_cast<uint32_t*>(address);
}

namespace {
constexpr size_t kMtWords = 624;

// A fresh MT19937 state from the kernel's generator, written in place: the
// two pages it spans are all this copies of the zygote, where
// np.random.seed() walks numpy's seeding code (about 140 copied pages).
bool SeedMt19937(uint32_t* key) {
  size_t done = 0;
  auto* bytes = reinterpret_cast<unsigned char*>(key);
  while (done < kMtWords * sizeof(uint32_t)) {
    ssize_t n = ::getrandom(bytes + done, kMtWords * sizeof(uint32_t) - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  key[0] = 0x80000000u;  // as numpy's own seeding: the state is never all zero
  *reinterpret_cast<int*>(key + kMtWords) = static_cast<int>(kMtWords);  // pos: regenerate at the first draw
  return true;
}
}  // namespace

void Interpreter::PrepareChild() {
  bool seeded = state_->numpy_mt_key != nullptr && SeedMt19937(state_->numpy_mt_key);
  state_->runner.attr("prepare_child")(seeded);
}

void Interpreter::Prewarm() { state_->runner.attr("prewarm")(); }

std::string Interpreter::Run(const std::string& script, const std::string& input_json, uint64_t max_result_bytes) {
  py::object input = input_json.empty() ? py::object(py::none()) : py::object(py::str(input_json));
  py::object doc = state_->runner.attr("run")(py::str(script), input, max_result_bytes);
  return doc.cast<std::string>();
}

void Interpreter::AfterForkChild() { PyOS_AfterFork_Child(); }

}  // namespace wj::embed
