#include "node_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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

// With TLS the node says https:// and grpcs:// instead.
constexpr char kReadyPrefix[] = "listening on http://";
constexpr char kSecureReadyPrefix[] = "listening on https://";
constexpr char kGrpcPrefix[] = "listening on grpc://";
constexpr char kSecureGrpcPrefix[] = "listening on grpcs://";

// The port at the end of a "listening on <scheme>://host:port" line; 0 when there is none.
uint16_t PortOf(const std::string& line) {
  uint32_t port = 0;
  size_t colon = line.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(line.substr(colon + 1), &port) ||
      port == 0 || port > 65535) {
    return 0;
  }
  return static_cast<uint16_t>(port);
}

absl::Status ErrnoStatus(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
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

// fork + exec with stdin from `stdin_file` (default /dev/null) and the given stdout/stderr.
// Everything the child needs is prepared before fork(): between fork and exec only
// async-signal-safe calls are allowed, since the test process has other threads.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, int out_fd, int err_fd,
                            const std::filesystem::path& stdin_file = {}) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string input = stdin_file.empty() ? "/dev/null" : stdin_file.string();
  Fd input_fd(::open(input.c_str(), O_RDONLY | O_CLOEXEC));
  if (input_fd.get() < 0) return ErrnoStatus(absl::StrCat("open ", input));
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("fork");
  if (pid == 0) {
    // Die with the parent (a crashed or aborted test must not leave nodes behind).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
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

std::string DevnodeBinary() { return std::string(ESDB_BIN_DIR) + "/esdb-devnode"; }
std::string ConnectorsLibraryPath() { return std::string(ESDB_LIB_DIR) + "/libesdb_connectors.so"; }
std::string PluginDir() { return ESDB_PLUGIN_DIR; }

NodeProcess::NodeProcess(NodeOptions options) : options_(std::move(options)) {}

NodeProcess::~NodeProcess() {
  if (running()) (void)Kill();
  if (reader_.joinable()) reader_.join();
}

bool NodeProcess::running() const { return pid_ > 0; }

uint16_t NodeProcess::port() const {
  absl::MutexLock lock(&mu_);
  return port_;
}

uint16_t NodeProcess::grpc_port() const {
  absl::MutexLock lock(&mu_);
  return grpc_port_;
}

std::vector<std::string> NodeProcess::CommandLine(uint16_t port) const {
  std::vector<std::string> argv = {options_.binary,
                                   "--db",
                                   db_path().string(),
                                   "--bind",
                                   "127.0.0.1",
                                   "--http-port",
                                   std::to_string(port),
                                   "--connectors-library",
                                   ConnectorsLibraryPath(),
                                   "--plugins-dir",
                                   PluginDir(),
                                   // Tests name their sinks' files in the scratch folder.
                                   "--sink-files-root",
                                   options_.data_dir.parent_path().string()};
  if (DevnodeHasGrpcPort()) {
    // A fresh free port each run keeps parallel tests apart.
    argv.insert(argv.end(), {"--grpc-port", "0"});
  }
  if (options_.insecure) argv.push_back("--insecure");
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  return argv;
}

void NodeProcess::CopyOutput(int fd, std::filesystem::path to) {
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
      if (absl::StartsWith(line, kReadyPrefix) || absl::StartsWith(line, kSecureReadyPrefix)) {
        absl::MutexLock lock(&mu_);
        ready_port_ = PortOf(line);
      } else if (absl::StartsWith(line, kGrpcPrefix) || absl::StartsWith(line, kSecureGrpcPrefix)) {
        absl::MutexLock lock(&mu_);
        grpc_port_ = PortOf(line);
      }
      line.clear();
    }
  }
  absl::MutexLock lock(&mu_);
  output_closed_ = true;
}

absl::Status NodeProcess::Start() {
  if (running()) return absl::FailedPreconditionError("the node is already running");
  if (reader_.joinable()) reader_.join();
  for (const char* sub : {"db", "logs"}) {
    std::error_code ec;
    std::filesystem::create_directories(options_.data_dir / sub, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot create ", (options_.data_dir / sub).string(), ": ", ec.message()));
    }
  }
  const int run = ++runs_;
  const auto logs = options_.data_dir / "logs";
  const auto out_path = logs / absl::StrCat("run-", run, ".stdout");
  const auto err_path = logs / absl::StrCat("run-", run, ".stderr");

  Fd out_read, out_write;
  if (absl::Status s = MakePipe(out_read, out_write); !s.ok()) return s;
  Fd err_file(::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (err_file.get() < 0) return ErrnoStatus(absl::StrCat("open ", err_path.string()));
  uint16_t port;
  {
    absl::MutexLock lock(&mu_);
    port = port_;
    ready_port_ = 0;
    grpc_port_ = 0;
    output_closed_ = false;
  }
  auto pid = Spawn(CommandLine(port), out_write.get(), err_file.get());
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  out_write.Reset();  // the reader sees EOF once the child is gone
  err_file.Reset();
  reader_ = std::thread([this, fd = out_read.Release(), out_path] { CopyOutput(fd, out_path); });

  bool ready;
  {
    absl::MutexLock lock(&mu_);
    auto done = [this]()
                    ABSL_SHARED_LOCKS_REQUIRED(mu_) { return ready_port_ != 0 || output_closed_; };
    mu_.AwaitWithTimeout(absl::Condition(&done), options_.ready_timeout);
    ready = ready_port_ != 0;
    if (ready) port_ = ready_port_;
  }
  if (ready) return absl::OkStatus();

  // Not ready: it exited (output closed) or hangs. Either way, end it and say why.
  bool exited_early;
  {
    absl::MutexLock lock(&mu_);
    exited_early = output_closed_;
  }
  auto end = exited_early ? Reap(absl::Seconds(10)) : Kill();
  if (exited_early && !end.ok()) end = Kill();
  const std::string ended = end.ok() ? end->ToString() : std::string(end.status().message());
  const std::string why =
      exited_early ? absl::StrCat("ended (", ended, ") before it was ready")
                   : absl::StrCat("was not ready within ",
                                  absl::FormatDuration(options_.ready_timeout), "; killed it");
  return absl::UnavailableError(absl::StrCat(
      "esdb-devnode run ", run, " ", why, "; command: ", absl::StrJoin(CommandLine(port), " "),
      "\n--- stdout ---\n", ReadWholeFile(out_path), "--- stderr ---\n", ReadWholeFile(err_path)));
}

absl::StatusOr<ExitStatus> NodeProcess::Reap(absl::Duration timeout) {
  if (!running()) return absl::FailedPreconditionError("the node is not running");
  auto status = WaitForExit(pid_, timeout);
  if (!status.ok()) return status;
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  return status;
}

absl::Status NodeProcess::Signal(int sig) {
  if (!running()) return absl::FailedPreconditionError("the node is not running");
  if (::kill(pid_, sig) != 0) return ErrnoStatus("kill");
  return absl::OkStatus();
}

absl::StatusOr<ExitStatus> NodeProcess::Stop() {
  if (absl::Status s = Signal(SIGTERM); !s.ok()) return s;
  auto status = Reap(options_.stop_timeout);
  if (absl::IsDeadlineExceeded(status.status())) {
    (void)Kill();
    return absl::DeadlineExceededError(absl::StrCat("esdb-devnode did not stop within ",
                                                    absl::FormatDuration(options_.stop_timeout),
                                                    " of SIGTERM; killed it"));
  }
  return status;
}

absl::StatusOr<ExitStatus> NodeProcess::Kill() {
  if (absl::Status s = Signal(SIGKILL); !s.ok()) return s;
  return Reap(absl::Seconds(60));
}

absl::Status NodeProcess::Restart() {
  auto stopped = Stop();
  if (!stopped.ok()) return stopped.status();
  if (!stopped->CleanExit()) {
    return absl::InternalError(absl::StrCat("esdb-devnode stopped with ", stopped->ToString()));
  }
  return Start();
}

std::string NodeProcess::Logs() const {
  std::string all;
  for (int run = 1; run <= runs_; ++run) {
    for (const char* kind : {"stdout", "stderr"}) {
      auto path = options_.data_dir / "logs" / absl::StrCat("run-", run, ".", kind);
      absl::StrAppend(&all, "--- run ", run, " ", kind, " ---\n", ReadWholeFile(path));
    }
  }
  return all;
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

bool DevnodeHasGrpcPort() {
  static const bool has = [] {
    auto help = RunToExit({DevnodeBinary(), "--help"}, absl::Seconds(60));
    return help.ok() && absl::StrContains(help->out, "--grpc-port");
  }();
  return has;
}

}  // namespace esdb::e2e
