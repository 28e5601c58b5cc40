#include "output_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "json_line.h"

namespace esdb_file_sink {
namespace {

constexpr std::string_view kHeaderStart = "{\"esdbFileSink\":";
// Enough for any header: connector ids are short. Only this much of a file is read to judge it.
constexpr size_t kMaxHeaderBytes = 4096;

// Errors a user must fix in the settings, as opposed to ones that may pass (disk full, EMFILE).
bool IsConfigError(int error) {
  switch (error) {
    case ENOENT:
    case ENOTDIR:
    case EISDIR:
    case EACCES:
    case EPERM:
    case EROFS:
    case ENAMETOOLONG:
    case ELOOP:
    case ENXIO:
      return true;
    default:
      return false;
  }
}

esdb_sink_status Failure(const char* what, const std::string& path, int error,
                         std::string& message) {
  message = "path: " + ErrnoText(what, path, error);
  return IsConfigError(error) ? ESDB_SINK_INVALID_CONFIG : ESDB_SINK_RETRY;
}

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Makes a new directory entry durable; best effort, as a failure here loses nothing acknowledged.
void SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// A name for the temporary file that no one else is likely to be using.
std::string TemporaryName(const std::string& dir) {
  uint64_t bits = 0;
  if (::getrandom(&bits, sizeof(bits), GRND_NONBLOCK) != static_cast<ssize_t>(sizeof(bits))) {
    bits = static_cast<uint64_t>(::getpid()) * 0x9E3779B97F4A7C15ull ^
           static_cast<uint64_t>(std::time(nullptr));
  }
  char name[40];
  std::snprintf(name, sizeof(name), "/.file-sink-%016llx.tmp",
                static_cast<unsigned long long>(bits));
  return dir + name;
}

bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Puts a file holding exactly `header` at `path` unless something is there already. OK in both
// cases, with `created` telling which (the caller judges what it finds); otherwise why not.
esdb_sink_status CreateWithHeader(const std::string& path, const std::string& header, bool& created,
                                  std::string& error) {
  const std::string dir = ParentOf(path);
  std::string temporary;
  int fd = -1;
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    temporary = TemporaryName(dir);
    fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno != EEXIST) return Failure("cannot create", path, errno, error);
  }
  if (fd < 0) return Failure("cannot create", path, EEXIST, error);
  // Synced whatever the fsync setting: a header lost to a power cut would leave a file that the
  // sink refuses from then on.
  if (!WriteAll(fd, header) || ::fdatasync(fd) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    return Failure("cannot create", path, e, error);
  }
  ::close(fd);
  // link() and a no-replace rename both fail with EEXIST rather than touch an existing file.
  int rc = ::link(temporary.c_str(), path.c_str());
  int e = errno;
  if (rc != 0 && (e == EPERM || e == EOPNOTSUPP || e == ENOSYS || e == EMLINK)) {
    rc = ::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    e = errno;
  }
  ::unlink(temporary.c_str());  // after a rename it is already gone
  if (rc != 0 && e != EEXIST) return Failure("cannot create", path, e, error);
  created = rc == 0;
  if (created) SyncDirectory(dir);
  return ESDB_SINK_OK;
}

bool ReadPrefix(int fd, size_t size, std::string& out) {
  out.resize(size);
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd, out.data() + got, size - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) {  // the file shrank under us
      errno = EIO;
      return false;
    }
    got += static_cast<size_t>(n);
  }
  return true;
}

// The connector id a header of another connector names, or "" when it cannot be read from it.
std::string ConnectorIdIn(std::string_view first_line) {
  constexpr std::string_view kKey = "\"connectorId\":\"";
  size_t at = first_line.find(kKey);
  if (at == std::string_view::npos) return "";
  first_line.remove_prefix(at + kKey.size());
  size_t end = first_line.find('"');
  return end == std::string_view::npos ? "" : std::string(first_line.substr(0, end));
}

// OK when the open file starts with `header`; INVALID_CONFIG with the reason otherwise.
esdb_sink_status Recognise(int fd, off_t size, const std::string& path, std::string_view header,
                           std::string_view connector_id, std::string& error) {
  std::string prefix;
  size_t want =
      static_cast<size_t>(size) < kMaxHeaderBytes ? static_cast<size_t>(size) : kMaxHeaderBytes;
  if (!ReadPrefix(fd, want, prefix)) return Failure("cannot read", path, errno, error);
  if (prefix.compare(0, header.size(), header) == 0) return ESDB_SINK_OK;
  const size_t newline = prefix.find('\n');
  const std::string_view first_line = std::string_view(prefix).substr(0, newline);
  if (newline != std::string::npos && first_line.substr(0, kHeaderStart.size()) == kHeaderStart) {
    std::string owner = ConnectorIdIn(first_line);
    if (!owner.empty() && owner != connector_id) {
      error = "path: '" + path + "' is the output of connector '" + owner +
              "', not of connector '" + std::string(connector_id) +
              "'; each connector needs an output file of its own";
    } else {
      error = "path: '" + path +
              "' starts with a file-sink header this version does not know; file-sink appends "
              "only to files that start with exactly its own header line";
    }
  } else {
    error = "path: '" + path +
            "' exists and was not written by file-sink (it does not start with a file-sink "
            "header line); file-sink never appends to or cuts a file it did not create, so "
            "choose a new path or move the file away";
  }
  return ESDB_SINK_INVALID_CONFIG;
}

}  // namespace

std::string HeaderLine(std::string_view connector_id) {
  std::string line(kHeaderStart);
  line.append("{\"version\":1,\"connectorId\":");
  AppendJsonString(connector_id, line);
  line.append("}}\n");
  return line;
}

std::string ErrnoText(const char* what, const std::string& path, int error) {
  return std::string(what) + " '" + path + "': " + std::strerror(error);
}

esdb_sink_status OpenOutputFile(const std::string& path, std::string_view connector_id,
                                OutputFile& out, std::string& error) {
  const std::string header = HeaderLine(connector_id);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Failure("cannot open", path, errno, error);
    if (esdb_sink_status s = CreateWithHeader(path, header, out.created, error);
        s != ESDB_SINK_OK) {
      return s;
    }
    // Stat again: what is there now is ours, or appeared meanwhile and is judged below.
    if (::stat(path.c_str(), &st) != 0) return Failure("cannot open", path, errno, error);
  }
  if (S_ISDIR(st.st_mode)) {
    error = "path: '" + path + "' is a directory";
    return ESDB_SINK_INVALID_CONFIG;
  }
  // Checked before open(): opening a device can have effects of its own (a tape rewinds).
  if (!S_ISREG(st.st_mode)) {
    error = "path: '" + path +
            "' is not a regular file (a device, pipe or socket); file-sink writes only to files "
            "it created";
    return ESDB_SINK_INVALID_CONFIG;
  }
  // O_NONBLOCK: should the path be swapped for a FIFO after the check, open() must not hang.
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return Failure("cannot open", path, errno, error);
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    error = "path: '" + path + "' is not a regular file";
    return ESDB_SINK_INVALID_CONFIG;
  }
  ::fcntl(fd, F_SETFL, O_APPEND);  // back to blocking writes
  if (esdb_sink_status s = Recognise(fd, st.st_size, path, header, connector_id, error);
      s != ESDB_SINK_OK) {
    ::close(fd);
    return s;
  }
  out.fd = fd;
  out.header_end = static_cast<off_t>(header.size());
  return ESDB_SINK_OK;
}

}  // namespace esdb_file_sink
