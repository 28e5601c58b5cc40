#include "process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace esdb::multinode {
namespace {

std::string ErrnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

// Reaps `pid` if it has ended. True when it has (and `status` holds its wait status).
bool Reaped(pid_t pid, int* status) {
  pid_t r;
  do {
    r = ::waitpid(pid, status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  return r == pid;
}

std::string Describe(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

}  // namespace

std::string BinaryPath(const std::string& name) { return std::string(ESDB_BIN_DIR) + "/" + name; }

absl::StatusOr<uint16_t> FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(ErrnoText("socket"));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::string e = ErrnoText("bind");
    ::close(fd);
    return absl::InternalError(e);
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

Process::~Process() {
  if (running()) (void)Kill();
}

std::string Process::Log() const {
  std::ifstream in(options_.log_file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Process::LogTail() const {
  std::string log = Log();
  constexpr size_t kTail = 3000;
  return log.size() > kTail ? "..." + log.substr(log.size() - kTail) : log;
}

size_t Process::CountLogLines(const std::vector<std::string>& needles) const {
  size_t n = 0;
  for (absl::string_view line : absl::StrSplit(Log(), '\n')) {
    bool all = true;
    for (const std::string& needle : needles) all = all && absl::StrContains(line, needle);
    n += all;
  }
  return n;
}

uint16_t Process::AnnouncedPort(const std::string& log, size_t from,
                                const std::string& scheme) const {
  const std::string marker = "listening on " + scheme + "://";
  size_t at = log.find(marker, from);
  if (at == std::string::npos) return 0;
  size_t eol = log.find('\n', at);
  if (eol == std::string::npos) return 0;  // not complete yet
  std::string address = log.substr(at + marker.size(), eol - at - marker.size());
  size_t colon = address.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port > 65535) {
    return 0;
  }
  return static_cast<uint16_t>(port);
}

absl::Status Process::Start(absl::Duration timeout) {
  if (running()) return absl::FailedPreconditionError(options_.name + " is already running");
  std::error_code ec;
  std::filesystem::create_directories(options_.work_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", options_.work_dir.string()));
  // Where this run's output begins in the shared log.
  const size_t from = std::filesystem::exists(options_.log_file)
                          ? std::filesystem::file_size(options_.log_file)
                          : 0;
  int log = ::open(options_.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return absl::InternalError(ErrnoText("open " + options_.log_file.string()));
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

  // Everything the child needs, prepared before fork: after it only async-signal-safe calls.
  std::vector<char*> argv;
  for (const std::string& a : options_.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::string dir = options_.work_dir.string();
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log);
    if (null >= 0) ::close(null);
    return absl::InternalError(ErrnoText("fork"));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(125);
  }
  ::close(log);
  if (null >= 0) ::close(null);
  pid_ = pid;
  paused_ = false;
  http_port_ = grpc_port_ = 0;

  // The child announces readiness in its output: poll the log (another process's effect).
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    std::string text = Log();
    if (uint16_t port = AnnouncedPort(text, from, "http"); port != 0) {
      http_port_ = port;
      grpc_port_ = AnnouncedPort(text, from, "grpc");
      return absl::OkStatus();
    }
    int status = 0;
    if (Reaped(pid_, &status)) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat(options_.name, " ended before it was ready (",
                                              Describe(status), "):\n", LogTail()));
    }
    if (absl::Now() >= deadline) {
      (void)Kill();
      return absl::DeadlineExceededError(absl::StrCat(
          options_.name, " not ready within ", absl::FormatDuration(timeout), ":\n", LogTail()));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

absl::Status Process::Stop(absl::Duration timeout) {
  if (!running()) return absl::FailedPreconditionError(options_.name + " is not running");
  if (paused_) (void)Resume();
  if (::kill(pid_, SIGTERM) != 0) return absl::InternalError(ErrnoText("kill"));
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (!Reaped(pid_, &status)) {
    if (absl::Now() >= deadline) {
      (void)Kill();
      return absl::DeadlineExceededError(
          absl::StrCat(options_.name, " did not stop within ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(10));  // no portable way to wait for a child with a timeout
  }
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat(options_.name, " stopped with ", Describe(status), ":\n", LogTail()));
  }
  return absl::OkStatus();
}

absl::Status Process::Kill() {
  if (!running()) return absl::FailedPreconditionError(options_.name + " is not running");
  ::kill(pid_, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  pid_ = -1;
  paused_ = false;
  return absl::OkStatus();
}

absl::Status Process::Pause() {
  if (!running()) return absl::FailedPreconditionError(options_.name + " is not running");
  if (::kill(pid_, SIGSTOP) != 0) return absl::InternalError(ErrnoText("kill"));
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, WUNTRACED);
  } while (r < 0 && errno == EINTR);
  if (r != pid_ || !WIFSTOPPED(status)) {
    return absl::InternalError(absl::StrCat(options_.name, " did not stop: ", Describe(status)));
  }
  paused_ = true;
  return absl::OkStatus();
}

absl::Status Process::Resume() {
  if (!running()) return absl::FailedPreconditionError(options_.name + " is not running");
  if (::kill(pid_, SIGCONT) != 0) return absl::InternalError(ErrnoText("kill"));
  paused_ = false;
  return absl::OkStatus();
}

}  // namespace esdb::multinode
