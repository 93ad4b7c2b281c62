#include <doctest/doctest.h>

#include <set>
#include <string>

#include "embed/zygote.h"
#include "jail/layers.h"
#include "jail/probe.h"
#include "src/service.h"

using namespace wj;
using jail::Layer;

TEST_CASE("one table names every layer, as /health and `warmjail check` print them") {
  // The names are part of the API (docs/openapi.yaml, /health's isolation).
  CHECK(std::string(jail::LayerName(Layer::kNamespaces)) == "namespaces");
  CHECK(std::string(jail::LayerName(Layer::kFilesystem)) == "filesystem");
  CHECK(std::string(jail::LayerName(Layer::kPrivileges)) == "privileges");
  CHECK(std::string(jail::LayerName(Layer::kSeccomp)) == "seccomp");
  CHECK(std::string(jail::LayerName(Layer::kMemoryAccounting)) == "memory_accounting");
  std::set<std::string> names;
  for (const jail::NamedLayer& entry : jail::kLayerNames) names.insert(entry.name);
  CHECK(names.size() == std::size(jail::kLayerNames));
}

TEST_CASE("each layer the jail applies has its switch; memory accounting is the server's") {
  jail::Layers layers;
  layers.*jail::SwitchOf(Layer::kNamespaces) = false;
  layers.*jail::SwitchOf(Layer::kPrivileges) = false;
  CHECK_FALSE(layers.namespaces);
  CHECK(layers.filesystem);
  CHECK_FALSE(layers.drop_privileges);
  CHECK(layers.seccomp);
  CHECK(jail::SwitchOf(Layer::kFilesystem) == &jail::Layers::filesystem);
  CHECK(jail::SwitchOf(Layer::kSeccomp) == &jail::Layers::seccomp);
  CHECK(jail::SwitchOf(Layer::kMemoryAccounting) == nullptr);
}

TEST_CASE("memory accounting: a cgroup where delegated, else rlimits, always active") {
  jail::LayerReport r = jail::MemoryAccountingReport(nullptr, "no delegated cgroup");
  CHECK(r.layer == Layer::kMemoryAccounting);
  CHECK(r.active);
  CHECK(r.mechanism == "rlimit");
  CHECK(r.detail.find("no delegated cgroup") != std::string::npos);
}

namespace {
embed::ReadyReport SampleReport() {
  embed::ReadyReport r;
  r.layers = {{Layer::kNamespaces, true, "user, mount, pid", ""},
              {Layer::kFilesystem, false, "mount(proc, /proc): Operation not permitted", ""},
              {Layer::kPrivileges, true, "", ""},
              {Layer::kSeccomp, true, "syscall allowlist", ""}};
  r.versions = "python 3.11.2, numpy 1.24.2, pandas 1.5.3";
  return r;
}
}  // namespace

TEST_CASE("the ready report crosses the control socket typed and intact") {
  embed::ReadyReport in = SampleReport();
  embed::ReadyReport out;
  REQUIRE(embed::DecodeReady(embed::EncodeReady(in), &out));
  CHECK(out == in);
  CHECK(out.layers[1].layer == Layer::kFilesystem);
  CHECK_FALSE(out.layers[1].active);

  embed::ReadyReport empty_in, empty_out;
  REQUIRE(embed::DecodeReady(embed::EncodeReady(empty_in), &empty_out));
  CHECK(empty_out == empty_in);
}

TEST_CASE("a malformed ready report is refused, never half read") {
  const std::string good = embed::EncodeReady(SampleReport());
  embed::ReadyReport out;
  for (size_t cut = 0; cut < good.size(); ++cut) {
    CAPTURE(cut);
    CHECK_FALSE(embed::DecodeReady(good.substr(0, cut), &out));
  }
  CHECK_FALSE(embed::DecodeReady(good + "x", &out));

  // The first layer's enum value (after the count) out of range.
  std::string bad_layer = good;
  bad_layer[4] = static_cast<char>(std::size(jail::kLayerNames));
  CHECK_FALSE(embed::DecodeReady(bad_layer, &out));
  // Its active flag neither 0 nor 1.
  std::string bad_flag = good;
  bad_flag[8] = 2;
  CHECK_FALSE(embed::DecodeReady(bad_flag, &out));
  // More layers than there are.
  std::string too_many = good;
  too_many[0] = static_cast<char>(std::size(jail::kLayerNames) + 1);
  CHECK_FALSE(embed::DecodeReady(too_many, &out));
}

TEST_CASE("/health's isolation: each layer under its name, details only when asked") {
  std::vector<jail::LayerReport> layers = SampleReport().layers;
  layers.push_back(jail::MemoryAccountingReport(nullptr, "none"));
  nlohmann::json brief = LayersJson(layers, false);
  nlohmann::json full = LayersJson(layers, true);
  for (const jail::NamedLayer& entry : jail::kLayerNames) {
    CAPTURE(entry.name);
    REQUIRE(brief.contains(entry.name));
    CHECK(brief[entry.name].size() == 1);
    CHECK(full[entry.name].contains("detail"));
  }
  CHECK(brief["filesystem"]["active"] == false);
  CHECK(full["memory_accounting"]["mechanism"] == "rlimit");
  CHECK_FALSE(full["seccomp"].contains("mechanism"));
  CHECK(AnyMissing(layers));
  layers[1].active = true;
  CHECK_FALSE(AnyMissing(layers));
}
