#include "child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace esdb::e2e {
namespace {

absl::Status ErrnoStatus(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// The port of a "listening on <scheme>://host:port" line whose scheme is one of `schemes`; 0
// when the line is not one.
uint16_t AnnouncedPort(const std::string& line, std::initializer_list<const char*> schemes) {
  for (const char* scheme : schemes) {
    if (!absl::StartsWith(line, absl::StrCat("listening on ", scheme, "://"))) continue;
    uint32_t port = 0;
    const size_t colon = line.rfind(':');
    if (colon == std::string::npos || !absl::SimpleAtoi(line.substr(colon + 1), &port) ||
        port == 0 || port > 65535) {
      return 0;
    }
    return static_cast<uint16_t>(port);
  }
  return 0;
}

// RAII for a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(other.Release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.Release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

absl::Status MakePipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe2");
  read_end = Fd(fds[0]);
  write_end = Fd(fds[1]);
  return absl::OkStatus();
}

ExitStatus Decode(int wait_status) {
  ExitStatus s;
  if (WIFEXITED(wait_status)) {
    s.exited = true;
    s.code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    s.signal = WTERMSIG(wait_status);
  }
  return s;
}

// fork + exec with stdin from `stdin_file` (default /dev/null), the given stdout/stderr and
// current folder. Everything the child needs is prepared before fork(): between fork and exec
// only async-signal-safe calls are allowed, since the test process has other threads.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, int out_fd, int err_fd,
                            const std::filesystem::path& stdin_file = {},
                            const std::filesystem::path& work_dir = {}) {
  if (argv.empty()) return absl::InvalidArgumentError("no command line");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string input = stdin_file.empty() ? "/dev/null" : stdin_file.string();
  const std::string dir = work_dir.string();
  Fd input_fd(::open(input.c_str(), O_RDONLY | O_CLOEXEC));
  if (input_fd.get() < 0) return ErrnoStatus(absl::StrCat("open ", input));
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("fork");
  if (pid == 0) {
    // Die with the parent (a crashed or aborted test must not leave programs behind).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (!dir.empty() && ::chdir(dir.c_str()) != 0) ::_exit(126);
    if (::dup2(input_fd.get(), STDIN_FILENO) < 0 || ::dup2(out_fd, STDOUT_FILENO) < 0 ||
        ::dup2(err_fd, STDERR_FILENO) < 0) {
      ::_exit(126);
    }
    ::execv(args[0], args.data());
    static const char kMessage[] = "exec failed\n";
    (void)!::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
    ::_exit(127);
  }
  return pid;
}

// Waits up to `timeout` for `pid` to end and reaps it. DeadlineExceeded when it is still alive.
absl::StatusOr<ExitStatus> WaitForExit(pid_t pid, absl::Duration timeout) {
  // A pidfd becomes readable when the child exits: wait on it, then reap.
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.get() < 0) return ErrnoStatus("pidfd_open");
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    pollfd p{pidfd.get(), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left_ms)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("poll(pidfd)");
    if (n == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid, " still running after ", absl::FormatDuration(timeout)));
    }
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return ErrnoStatus("waitpid");
    return Decode(status);
  }
}

std::string ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::string ExitStatus::ToString() const {
  if (exited) return absl::StrCat("exit code ", code);
  if (signal != 0) return absl::StrCat("killed by signal ", signal, " (", strsignal(signal), ")");
  return "unknown end";
}

std::string BinaryPath(const std::string& name) { return std::string(ESDB_BIN_DIR) + "/" + name; }
std::string ConnectorsLibraryPath() { return std::string(ESDB_LIB_DIR) + "/libesdb_connectors.so"; }
std::string PluginDir() { return ESDB_PLUGIN_DIR; }

ChildProcess::ChildProcess(ChildOptions options) : options_(std::move(options)) {}

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

std::filesystem::path ChildProcess::LogFile(int run) const {
  return options_.log_dir / absl::StrCat(options_.name, "-", run, ".log");
}

void ChildProcess::CopyOutput(int fd, std::filesystem::path to) {
  Fd in(fd);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  std::string line;
  char buffer[16384];
  while (true) {
    ssize_t n = ::read(in.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.write(buffer, n);
    out.flush();
    for (ssize_t i = 0; i < n; ++i) {
      if (buffer[i] != '\n') {
        if (line.size() < 4096) line.push_back(buffer[i]);
        continue;
      }
      // A secure program says https:// and grpcs://.
      if (uint16_t p = AnnouncedPort(line, {"http", "https"})) {
        absl::MutexLock lock(&mu_);
        http_port_ = p;
        ready_ = true;
      } else if (uint16_t p = AnnouncedPort(line, {"grpc", "grpcs"})) {
        absl::MutexLock lock(&mu_);
        grpc_port_ = p;
      }
      line.clear();
    }
  }
  absl::MutexLock lock(&mu_);
  output_closed_ = true;
}

absl::Status ChildProcess::Start() {
  if (running()) return absl::FailedPreconditionError(options_.name + " is already running");
  if (reader_.joinable()) reader_.join();
  for (const std::filesystem::path& dir : {options_.log_dir, options_.work_dir}) {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec)
      return absl::InternalError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  }
  const int run = ++runs_;
  const std::filesystem::path log = LogFile(run);
  const std::vector<std::string> argv = options_.argv();

  Fd out_read, out_write;
  if (absl::Status s = MakePipe(out_read, out_write); !s.ok()) return s;
  // Room for bursts of output, so that a busy machine's slow reader thread never makes the
  // program wait on its own log lines (best effort: the default 64 KiB otherwise).
  (void)::fcntl(out_write.get(), F_SETPIPE_SZ, 1 << 20);
  {
    absl::MutexLock lock(&mu_);
    ready_ = false;
    output_closed_ = false;
  }
  auto pid = Spawn(argv, out_write.get(), out_write.get(), {}, options_.work_dir);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  paused_ = false;
  out_write.Reset();  // the reader sees EOF once the child is gone
  reader_ = std::thread([this, fd = out_read.Release(), log] { CopyOutput(fd, log); });

  bool ready, exited_early;
  {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return ready_ || output_closed_; };
    mu_.AwaitWithTimeout(absl::Condition(&done), options_.ready_timeout);
    ready = ready_;
    exited_early = !ready_ && output_closed_;
  }
  if (ready) return absl::OkStatus();

  // Not ready: it exited (output closed) or hangs. Either way, end it and say why.
  auto end = exited_early ? Reap(absl::Seconds(10)) : Kill();
  if (exited_early && !end.ok()) end = Kill();
  const std::string ended = end.ok() ? end->ToString() : std::string(end.status().message());
  const std::string why =
      exited_early ? absl::StrCat("ended (", ended, ") before it was ready")
                   : absl::StrCat("was not ready within ",
                                  absl::FormatDuration(options_.ready_timeout), "; killed it");
  return absl::UnavailableError(absl::StrCat(options_.name, " run ", run, " ", why,
                                             "; command: ", absl::StrJoin(argv, " "), "\n--- ",
                                             log.string(), " ---\n", ReadWholeFile(log)));
}

absl::StatusOr<ExitStatus> ChildProcess::Reap(absl::Duration timeout) {
  if (!running()) return absl::FailedPreconditionError(options_.name + " is not running");
  auto status = WaitForExit(pid_, timeout);
  if (!status.ok()) return status;
  pid_ = -1;
  paused_ = false;
  if (reader_.joinable()) reader_.join();
  return status;
}

absl::StatusOr<ExitStatus> ChildProcess::Stop() {
  if (!running()) return absl::FailedPreconditionError(options_.name + " is not running");
  if (paused_) (void)Resume();
  if (::kill(pid_, SIGTERM) != 0) return ErrnoStatus("kill");
  auto status = Reap(options_.stop_timeout);
  if (absl::IsDeadlineExceeded(status.status())) {
    (void)Kill();
    return absl::DeadlineExceededError(absl::StrCat(options_.name, " did not stop within ",
                                                    absl::FormatDuration(options_.stop_timeout),
                                                    " of SIGTERM; killed it"));
  }
  return status;
}

absl::StatusOr<ExitStatus> ChildProcess::Kill() {
  if (!running()) return absl::FailedPreconditionError(options_.name + " is not running");
  if (::kill(pid_, SIGKILL) != 0) return ErrnoStatus("kill");
  return Reap(absl::Seconds(60));  // SIGKILL ends a stopped process too
}

absl::Status ChildProcess::Pause() {
  if (!running()) return absl::FailedPreconditionError(options_.name + " is not running");
  if (::kill(pid_, SIGSTOP) != 0) return ErrnoStatus("kill");
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, WUNTRACED);
  } while (r < 0 && errno == EINTR);
  if (r != pid_ || !WIFSTOPPED(status)) {
    return absl::InternalError(
        absl::StrCat(options_.name, " did not stop (wait status ", status, ")"));
  }
  paused_ = true;
  return absl::OkStatus();
}

absl::Status ChildProcess::Resume() {
  if (!running()) return absl::FailedPreconditionError(options_.name + " is not running");
  if (::kill(pid_, SIGCONT) != 0) return ErrnoStatus("kill");
  paused_ = false;
  return absl::OkStatus();
}

std::string ChildProcess::Logs() const {
  std::string all;
  for (int run = 1; run <= runs_; ++run) {
    absl::StrAppend(&all, "--- ", options_.name, " run ", run, " ---\n",
                    ReadWholeFile(LogFile(run)));
  }
  return all;
}

size_t ChildProcess::CountLogLines(const std::vector<std::string>& needles) const {
  size_t n = 0;
  for (absl::string_view line : absl::StrSplit(Logs(), '\n')) {
    bool all = true;
    for (const std::string& needle : needles) all = all && absl::StrContains(line, needle);
    n += all;
  }
  return n;
}

absl::StatusOr<RunResult> RunToExit(const std::vector<std::string>& argv, absl::Duration timeout,
                                    const std::filesystem::path& stdin_file) {
  Fd out_read, out_write, err_read, err_write;
  if (absl::Status s = MakePipe(out_read, out_write); !s.ok()) return s;
  if (absl::Status s = MakePipe(err_read, err_write); !s.ok()) return s;
  auto pid = Spawn(argv, out_write.get(), err_write.get(), stdin_file);
  if (!pid.ok()) return pid.status();
  out_write.Reset();
  err_write.Reset();

  RunResult result;
  const absl::Time deadline = absl::Now() + timeout;
  pollfd fds[2] = {{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open = 2;
  bool timed_out = false;
  while (open > 0) {
    int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left_ms <= 0) {
      timed_out = true;
      break;
    }
    int n = ::poll(fds, 2, static_cast<int>(left_ms));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[8192];
      ssize_t got = ::read(fds[i].fd, buffer, sizeof(buffer));
      if (got > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        fds[i].fd = -1;  // poll ignores negative descriptors
        --open;
      }
    }
  }
  if (timed_out) {
    ::kill(*pid, SIGKILL);
    (void)WaitForExit(*pid, absl::Seconds(30));
    return absl::DeadlineExceededError(
        absl::StrCat(argv[0], " ran longer than ", absl::FormatDuration(timeout)));
  }
  auto status = WaitForExit(*pid, deadline - absl::Now() + absl::Seconds(1));
  if (!status.ok()) {
    ::kill(*pid, SIGKILL);
    (void)WaitForExit(*pid, absl::Seconds(30));
    return status.status();
  }
  result.status = *status;
  return result;
}

absl::StatusOr<std::string> FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin", ':')) {
    if (dir.empty()) continue;
    const std::string candidate = absl::StrCat(dir, "/", name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError(absl::StrCat(name, " is not in $PATH"));
}

}  // namespace esdb::e2e
