#include "child_process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace esdb::sidecar_test {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// The port at the end of "listening on <scheme>://host:port", if the line is one.
uint16_t PortOf(const std::string& line, const std::string& prefix) {
  if (!absl::StartsWith(line, prefix)) return 0;
  uint32_t port = 0;
  size_t colon = line.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(line.substr(colon + 1), &port) ||
      port > 65535) {
    return 0;
  }
  return static_cast<uint16_t>(port);
}

}  // namespace

std::string BinaryPath(const std::string& name) { return std::string(ESDB_BIN_DIR) + "/" + name; }
std::string ConnectorsLibrary() { return std::string(ESDB_LIB_DIR) + "/libesdb_connectors.so"; }
std::string PluginDir() { return ESDB_PLUGIN_DIR; }

absl::StatusOr<uint16_t> FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    absl::Status s = Errno("bind");
    ::close(fd);
    return s;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

ChildProcess::ChildProcess(std::string name, std::filesystem::path log_dir,
                           std::function<std::vector<std::string>()> argv)
    : name_(std::move(name)), log_dir_(std::move(log_dir)), argv_(std::move(argv)) {}

ChildProcess::~ChildProcess() {
  if (running()) (void)Kill();
  if (reader_.joinable()) reader_.join();
}

uint16_t ChildProcess::http_port() const {
  absl::MutexLock lock(&mu_);
  return http_port_;
}

uint16_t ChildProcess::grpc_port() const {
  absl::MutexLock lock(&mu_);
  return grpc_port_;
}

void ChildProcess::Copy(int fd, std::filesystem::path to) {
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  std::string line;
  char buffer[8192];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.write(buffer, n);
    out.flush();
    for (ssize_t i = 0; i < n; ++i) {
      if (buffer[i] != '\n') {
        if (line.size() < 1024) line.push_back(buffer[i]);
        continue;
      }
      absl::MutexLock lock(&mu_);
      // A secure host says grpcs:// and https://.
      if (uint16_t p = PortOf(line, "listening on grpc://")) grpc_port_ = p;
      if (uint16_t p = PortOf(line, "listening on grpcs://")) grpc_port_ = p;
      if (uint16_t p = std::max(PortOf(line, "listening on http://"),
                                PortOf(line, "listening on https://"))) {
        http_port_ = p;
        ready_ = true;
      }
      line.clear();
    }
  }
  ::close(fd);
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

absl::Status ChildProcess::Start(absl::Duration timeout) {
  if (running()) return absl::FailedPreconditionError(name_ + " is already running");
  if (reader_.joinable()) reader_.join();
  std::filesystem::create_directories(log_dir_);
  const auto out_path = log_dir_ / absl::StrCat(name_, "-", ++runs_, ".out");
  const std::vector<std::string> argv = argv_();
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe2");
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  {
    absl::MutexLock lock(&mu_);
    ready_ = false;
    closed_ = false;
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Errno("fork");
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec: the test process has threads.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(fds[1], STDOUT_FILENO) < 0 ||
        ::dup2(fds[1], STDERR_FILENO) < 0) {
      ::_exit(126);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  ::close(null_fd);
  pid_ = pid;
  reader_ = std::thread([this, fd = fds[0], out_path] { Copy(fd, out_path); });
  bool ready;
  {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return ready_ || closed_; };
    mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
    ready = ready_;
  }
  if (ready) return absl::OkStatus();
  (void)Kill();
  return absl::UnavailableError(absl::StrCat(name_, " did not get ready:\n", Logs()));
}

absl::Status ChildProcess::Wait(absl::Duration timeout) {
  // A pidfd becomes readable when the child exits: wait on it, then reap.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd < 0) return Errno("pidfd_open");
  pollfd p{pidfd, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  } while (n < 0 && errno == EINTR);
  ::close(pidfd);
  if (n == 0) return absl::DeadlineExceededError(absl::StrCat(name_, " did not exit in time"));
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  return absl::OkStatus();
}

absl::Status ChildProcess::Stop(absl::Duration timeout) {
  if (!running()) return absl::FailedPreconditionError(name_ + " is not running");
  ::kill(pid_, SIGTERM);
  absl::Status s = Wait(timeout);
  if (!s.ok()) (void)Kill();
  return s;
}

absl::Status ChildProcess::Kill() {
  if (!running()) return absl::FailedPreconditionError(name_ + " is not running");
  ::kill(pid_, SIGKILL);
  return Wait(absl::Seconds(60));
}

std::string ChildProcess::Logs() const {
  std::string all;
  for (int run = 1; run <= runs_; ++run) {
    std::ifstream in(log_dir_ / absl::StrCat(name_, "-", run, ".out"));
    std::stringstream text;
    text << in.rdbuf();
    absl::StrAppend(&all, "--- ", name_, " run ", run, " ---\n", text.str());
  }
  return all;
}

}  // namespace esdb::sidecar_test
