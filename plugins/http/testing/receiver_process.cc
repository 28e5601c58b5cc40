#include "testing/receiver_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace esdb::testing {

absl::StatusOr<std::unique_ptr<ReceiverProcess>> ReceiverProcess::Start(
    const std::string& binary, const std::vector<std::string>& args) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return absl::InternalError("pipe failed");
  }
  std::vector<std::string> words = {binary};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork failed: ", std::strerror(errno)));
  if (pid == 0) {  // child: only async-signal-safe calls until exec
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  auto process = std::unique_ptr<ReceiverProcess>(new ReceiverProcess());
  process->pid_ = pid;
  process->stdin_fd_ = in[1];

  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (line.find('\n') == std::string::npos) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    pollfd p{out[0], POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, left) <= 0) break;
    char chunk[64];
    ssize_t n = ::read(out[0], chunk, sizeof(chunk));
    if (n <= 0) break;
    line.append(chunk, static_cast<size_t>(n));
  }
  ::close(out[0]);
  if (line.rfind("PORT ", 0) != 0) {
    return absl::UnavailableError(
        absl::StrCat("receiver '", binary, "' did not report its port (got '", line, "')"));
  }
  process->port_ = static_cast<uint16_t>(std::atoi(line.c_str() + 5));
  return process;
}

ReceiverProcess::~ReceiverProcess() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

std::string ReceiverProcess::Url(const std::string& path) const {
  return absl::StrCat("http://127.0.0.1:", port_, path);
}

absl::StatusOr<nlohmann::json> ReceiverProcess::Get(const std::string& path, int timeout_ms) {
  http::Request req;
  req.method = "GET";
  size_t q = path.find('?');
  req.path = path.substr(0, q);
  if (q != std::string::npos) req.query = path.substr(q + 1);
  auto res = http::Fetch("127.0.0.1", port_, req, timeout_ms);
  if (!res.ok()) return res.status();
  if (res->status != 200) {
    return absl::InternalError(absl::StrCat("GET ", path, ": HTTP ", res->status, " ", res->body));
  }
  nlohmann::json j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded()) return absl::InternalError(absl::StrCat("GET ", path, ": not JSON"));
  return j;
}

absl::Status ReceiverProcess::Schedule(const std::string& actions) {
  http::Request req;
  req.method = "POST";
  req.path = "/_control/schedule";
  req.body = actions;
  auto res = http::Fetch("127.0.0.1", port_, req);
  if (!res.ok()) return res.status();
  if (res->status != 200) return absl::InvalidArgumentError("bad schedule: " + actions);
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> ReceiverProcess::Events() { return Get("/_control/events"); }
absl::StatusOr<nlohmann::json> ReceiverProcess::Requests() { return Get("/_control/requests"); }
absl::StatusOr<nlohmann::json> ReceiverProcess::Stats() { return Get("/_control/stats"); }

absl::StatusOr<nlohmann::json> ReceiverProcess::WaitDistinct(size_t distinct, int timeout_ms) {
  return Get(absl::StrCat("/_control/wait?distinct=", distinct, "&timeoutMs=", timeout_ms),
             timeout_ms + 10000);
}

}  // namespace esdb::testing
