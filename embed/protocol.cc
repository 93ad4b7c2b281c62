#include "embed/protocol.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

namespace wj::proto {

bool Send(int sock, const Message& msg, const std::string& text, const std::vector<int>& fds) {
  if (text.size() > kMaxText || fds.size() > kMaxFds) {
    errno = EMSGSIZE;
    return false;
  }
  struct iovec iov[2] = {{const_cast<Message*>(&msg), sizeof msg},
                         {const_cast<char*>(text.data()), text.size()}};
  struct msghdr mh {};
  mh.msg_iov = iov;
  mh.msg_iovlen = text.empty() ? 1 : 2;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  if (!fds.empty()) {
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    struct cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof msg + text.size());
}

RecvResult Receive(int sock, Message* msg, std::string* text, std::vector<UniqueFd>* fds) {
  static thread_local std::string buffer(sizeof(Message) + kMaxText, '\0');
  struct iovec iov = {buffer.data(), buffer.size()};
  struct msghdr mh {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return RecvResult::kClosed;
  if (n < 0) return errno == ECONNRESET ? RecvResult::kClosed : RecvResult::kError;
  fds->clear();
  for (struct cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm != nullptr; cm = CMSG_NXTHDR(&mh, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
      fds->emplace_back(fd);
    }
  }
  if (static_cast<size_t>(n) < sizeof(Message) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
    errno = EBADMSG;
    return RecvResult::kError;
  }
  std::memcpy(msg, buffer.data(), sizeof(Message));
  text->assign(buffer.data() + sizeof(Message), n - sizeof(Message));
  return RecvResult::kOk;
}

std::string EncodePayload(const std::string& script, const std::string& input_json) {
  std::string out;
  uint64_t len = script.size();
  out.append(reinterpret_cast<const char*>(&len), sizeof len);
  out += script;
  out += input_json;
  return out;
}

bool DecodePayload(const std::string& bytes, std::string* script, std::string* input_json) {
  uint64_t len;
  if (bytes.size() < sizeof len) return false;
  std::memcpy(&len, bytes.data(), sizeof len);
  if (len > bytes.size() - sizeof len) return false;
  script->assign(bytes, sizeof len, len);
  input_json->assign(bytes, sizeof len + len, std::string::npos);
  return true;
}

}  // namespace wj::proto
