// The isolation layers: which the jail applies (Layers), and one table of
// their names, the only spelling `warmjail check`, /health and the logs use.
#pragma once
#include <cstddef>
#include <iterator>
namespace wj::jail {

// In the order the recipe applies them. Memory accounting is not the
// jail's probe's: the server reports it (a cgroup, else rlimits).
enum class Layer { kNamespaces, kFilesystem, kPrivileges, kSeccomp, kMemoryAccounting };

struct NamedLayer {
  Layer layer;
  const char* name;
};
inline constexpr NamedLayer kLayerNames[] = {
    {Layer::kNamespaces, "namespaces"},
    {Layer::kFilesystem, "filesystem"},
    {Layer::kPrivileges, "privileges"},
    {Layer::kSeccomp, "seccomp"},
    {Layer::kMemoryAccounting, "memory_accounting"},
};

// Each layer at its own enum value: a reader may index the table by it.
constexpr bool TableInEnumOrder() {
  for (size_t i = 0; i < std::size(kLayerNames); ++i)
    if (static_cast<size_t>(kLayerNames[i].layer) != i) return false;
  return true;
}
static_assert(TableInEnumOrder(), "kLayerNames lists every Layer once, in enum order");

constexpr const char* LayerName(Layer layer) {
  for (const NamedLayer& entry : kLayerNames)
    if (entry.layer == layer) return entry.name;
  return "?";
}

// What the jail applies to a child; the probe turns off what this host lacks.
struct Layers {
  bool namespaces = true;    // user, mount, pid, net, ipc, uts, cgroup
  bool filesystem = true;    // fresh read-only root, private /tmp, /dev, /proc
  bool drop_privileges = true;
  bool seccomp = true;
};

// The switch of a layer the jail applies; null for memory accounting.
using LayerSwitch = bool Layers::*;
constexpr LayerSwitch SwitchOf(Layer layer) {
  switch (layer) {
    case Layer::kNamespaces: return &Layers::namespaces;
    case Layer::kFilesystem: return &Layers::filesystem;
    case Layer::kPrivileges: return &Layers::drop_privileges;
    case Layer::kSeccomp: return &Layers::seccomp;
    case Layer::kMemoryAccounting: return nullptr;
  }
  return nullptr;
}

}  // namespace wj::jail
