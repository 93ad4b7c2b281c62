#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "embed/protocol.h"
#include "embed/zygote.h"

using namespace wj;

TEST_CASE("a message, its text and its descriptors cross the socket intact") {
  int pair[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
  UniqueFd a(pair[0]), b(pair[1]);
  int p[2];
  REQUIRE(::pipe(p) == 0);
  UniqueFd pr(p[0]), pw(p[1]);

  proto::Message out{proto::Kind::kJob};
  out.job_id = 42;
  out.memory_bytes = 512ull << 20;
  REQUIRE(proto::Send(a.get(), out, "hello", {pw.get()}));

  proto::Message in;
  std::string text;
  std::vector<UniqueFd> fds;
  REQUIRE(proto::Receive(b.get(), &in, &text, &fds) == proto::RecvResult::kOk);
  CHECK(in.kind == proto::Kind::kJob);
  CHECK(in.job_id == 42);
  CHECK(in.memory_bytes == 512ull << 20);
  CHECK(text == "hello");
  REQUIRE(fds.size() == 1);
  CHECK((::fcntl(fds[0].get(), F_GETFD) & FD_CLOEXEC) != 0);
  REQUIRE(::write(fds[0].get(), "x", 1) == 1);
  char c = 0;
  REQUIRE(::read(pr.get(), &c, 1) == 1);
  CHECK(c == 'x');

  a.reset();
  CHECK(proto::Receive(b.get(), &in, &text, &fds) == proto::RecvResult::kClosed);
}

TEST_CASE("payload round trip keeps NUL bytes and an absent input") {
  std::string script("def main():\n  return '\0'\n", 25);
  std::string s, i;
  REQUIRE(proto::DecodePayload(proto::EncodePayload(script, "[1]"), &s, &i));
  CHECK(s == script);
  CHECK(i == "[1]");
  REQUIRE(proto::DecodePayload(proto::EncodePayload(script, ""), &s, &i));
  CHECK(i.empty());
  CHECK_FALSE(proto::DecodePayload("abc", &s, &i));
  std::string bad = proto::EncodePayload("abc", "");
  bad[0] = 100;  // claims more script than there is
  CHECK_FALSE(proto::DecodePayload(bad, &s, &i));
}

TEST_CASE("the zygote's options survive the configure message, and a damaged one is refused") {
  embed::ZygoteOptions out;
  out.mode = embed::Mode::kCold;
  out.layers.seccomp = false;
  out.sandbox_uid = 65534;
  out.spares = 3;
  out.memory_bytes = 512ull << 20;
  out.cpu_seconds = 30;
  out.tmp_bytes = 64ull << 20;
  out.max_procs = 32;
  out.host_uid_first = 2000000000;
  out.host_uid_count = 32768;
  out.cgroup_version = 1;
  out.cgroup_memory_base = "/sys/fs/cgroup/memory/warmjail-1";
  out.cgroup_pids_base = "/sys/fs/cgroup/pids/warmjail-1";
  out.cgroup_cpuacct_base = "";
  std::string wire = embed::EncodeOptions(out);

  embed::ZygoteOptions in;
  REQUIRE(embed::DecodeOptions(wire, &in));
  CHECK(in.mode == embed::Mode::kCold);
  CHECK_FALSE(in.layers.seccomp);
  CHECK(in.layers.namespaces);
  CHECK(in.sandbox_uid == 65534);
  CHECK(in.spares == 3);
  CHECK(in.memory_bytes == 512ull << 20);
  CHECK(in.cpu_seconds == 30);
  CHECK(in.tmp_bytes == 64ull << 20);
  CHECK(in.max_procs == 32);
  CHECK(in.host_uid_first == 2000000000);
  CHECK(in.host_uid_count == 32768);
  CHECK(in.cgroup_version == 1);
  CHECK(in.cgroup_memory_base == out.cgroup_memory_base);
  CHECK(in.cgroup_pids_base == out.cgroup_pids_base);
  CHECK(in.cgroup_cpuacct_base.empty());

  CHECK_FALSE(embed::DecodeOptions(wire.substr(0, wire.size() - 1), &in));
  CHECK_FALSE(embed::DecodeOptions(wire + "x", &in));
  CHECK_FALSE(embed::DecodeOptions("", &in));
}
