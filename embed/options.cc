// The zygote's two typed messages on the wire: its options (kConfigure) and
// its ready report (kReady). Here rather than in zygote.cc so that the server side, the unit
// tests and the fuzzers link it without the interpreter.
#include <cstring>
#include <iterator>

#include "embed/zygote.h"

namespace wj::embed {

namespace {
// The wire form of ZygoteOptions: its numbers as one fixed struct, then the
// three cgroup paths, each after its length.
struct WireOptions {
  uint32_t size = sizeof(WireOptions);  // both ends are one binary; a check all the same
  int32_t mode;
  jail::Layers layers;
  uint32_t sandbox_uid, spares, cpu_seconds, max_procs, host_uid_first, host_uid_count;
  uint64_t memory_bytes, tmp_bytes;
  int32_t cgroup_version;
};

void PutU32(std::string* out, uint32_t value) { out->append(reinterpret_cast<const char*>(&value), sizeof value); }

bool GetU32(const std::string& in, size_t* at, uint32_t* value) {
  if (in.size() - *at < sizeof *value) return false;
  std::memcpy(value, in.data() + *at, sizeof *value);
  *at += sizeof *value;
  return true;
}

void PutString(std::string* out, const std::string& s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

bool GetString(const std::string& in, size_t* at, std::string* s) {
  uint32_t len;
  if (!GetU32(in, at, &len) || in.size() - *at < len) return false;
  s->assign(in, *at, len);
  *at += len;
  return true;
}
}  // namespace

std::string EncodeOptions(const ZygoteOptions& o) {
  WireOptions w{};
  w.size = sizeof w;
  w.mode = o.mode == Mode::kCold ? 1 : 0;
  w.layers = o.layers;
  w.sandbox_uid = o.sandbox_uid;
  w.spares = o.spares;
  w.cpu_seconds = o.cpu_seconds;
  w.max_procs = o.max_procs;
  w.host_uid_first = o.host_uid_first;
  w.host_uid_count = o.host_uid_count;
  w.memory_bytes = o.memory_bytes;
  w.tmp_bytes = o.tmp_bytes;
  w.cgroup_version = o.cgroup_version;
  std::string out(reinterpret_cast<const char*>(&w), sizeof w);
  PutString(&out, o.cgroup_memory_base);
  PutString(&out, o.cgroup_pids_base);
  PutString(&out, o.cgroup_cpuacct_base);
  return out;
}

bool DecodeOptions(const std::string& text, ZygoteOptions* o) {
  WireOptions w;
  if (text.size() < sizeof w) return false;
  std::memcpy(&w, text.data(), sizeof w);
  if (w.size != sizeof w || (w.mode != 0 && w.mode != 1)) return false;
  o->mode = w.mode == 1 ? Mode::kCold : Mode::kZygote;
  o->layers = w.layers;
  o->sandbox_uid = w.sandbox_uid;
  o->spares = w.spares;
  o->cpu_seconds = w.cpu_seconds;
  o->max_procs = w.max_procs;
  o->host_uid_first = w.host_uid_first;
  o->host_uid_count = w.host_uid_count;
  o->memory_bytes = w.memory_bytes;
  o->tmp_bytes = w.tmp_bytes;
  o->cgroup_version = w.cgroup_version;
  size_t at = sizeof w;
  return GetString(text, &at, &o->cgroup_memory_base) && GetString(text, &at, &o->cgroup_pids_base) &&
         GetString(text, &at, &o->cgroup_cpuacct_base) && at == text.size();
}

// The wire form of ReadyReport: the number of layers; each layer as its
// enum value, its active flag, its detail and its mechanism; the versions.
std::string EncodeReady(const ReadyReport& r) {
  std::string out;
  PutU32(&out, static_cast<uint32_t>(r.layers.size()));
  for (const jail::LayerReport& layer : r.layers) {
    PutU32(&out, static_cast<uint32_t>(layer.layer));
    PutU32(&out, layer.active ? 1 : 0);
    PutString(&out, layer.detail);
    PutString(&out, layer.mechanism);
  }
  PutString(&out, r.versions);
  return out;
}

bool DecodeReady(const std::string& text, ReadyReport* r) {
  constexpr uint32_t kLayers = std::size(jail::kLayerNames);
  size_t at = 0;
  uint32_t count;
  if (!GetU32(text, &at, &count) || count > kLayers) return false;
  r->layers.assign(count, {});
  for (jail::LayerReport& layer : r->layers) {
    uint32_t value, active;
    if (!GetU32(text, &at, &value) || value >= kLayers || !GetU32(text, &at, &active) || active > 1 ||
        !GetString(text, &at, &layer.detail) || !GetString(text, &at, &layer.mechanism))
      return false;
    layer.layer = static_cast<jail::Layer>(value);
    layer.active = active == 1;
  }
  return GetString(text, &at, &r->versions) && at == text.size();
}

}  // namespace wj::embed
