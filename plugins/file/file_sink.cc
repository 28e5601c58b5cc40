// file-sink: appends every record as one line of JSON (JSON Lines) to a file.
//
// Durability: each batch is formatted in memory and appended with one write() (looping only on
// a short write), then, with fsync=true, made durable with fdatasync() before the batch is
// acknowledged. A failed batch is cut off again, so a retry never leaves half a batch behind.
// A process killed in the middle of a write() can still leave a partial last line; readers must
// ignore a trailing line without '\n'. On open the sink removes such a tail (it was never
// acknowledged) so that the next record starts on a line of its own.
//
// The file is meant to have one writer: truncating a failed batch assumes nobody else appends.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>

#include "common/cxx_boundary.h"
#include "esdb/sink.h"
#include "json_line.h"

namespace esdb_file_sink {
namespace {

const esdb_sink_setting kPath = {sizeof(esdb_sink_setting),
                                 "path",
                                 ESDB_SINK_SETTING_STRING,
                                 nullptr,
                                 1,
                                 0,
                                 "JSON Lines file the records are appended to; created if missing.",
                                 nullptr};
const esdb_sink_setting kFsync = {sizeof(esdb_sink_setting),
                                  "fsync",
                                  ESDB_SINK_SETTING_BOOL,
                                  "true",
                                  0,
                                  0,
                                  "Make each batch durable (fdatasync) before acknowledging it.",
                                  nullptr};
const esdb_sink_setting* const kSettings[] = {&kPath, &kFsync};

// Batches above this leave their buffer behind rather than keep it for the next one.
constexpr size_t kMaxKeptBuffer = size_t{16} << 20;

struct FileSink {
  const esdb_sink_host* host = nullptr;
  std::string path;
  int fd = -1;
  bool sync = true;
  bool regular = true;  // false for pipes and devices, which cannot be synced or truncated
  std::string buffer;

  void Log(esdb_sink_log_level level, const std::string& line) const {
    if (host != nullptr && host->log != nullptr) host->log(host->ctx, level, line.c_str());
  }
};

std::string ErrnoText(const char* what, const std::string& path, int error) {
  return std::string(what) + " '" + path + "': " + std::strerror(error);
}

using esdb_plugin::CopyError;

const char* Setting(const esdb_sink_kv* settings, size_t count, const char* key) {
  for (size_t i = 0; i < count; ++i) {
    if (std::strcmp(settings[i].key, key) == 0) return settings[i].value;
  }
  return nullptr;
}

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

// Best effort: makes a new file's directory entry durable too.
void SyncParentDirectory(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Cuts a trailing partial line (bytes after the last '\n') off a regular file opened for reading.
// Returns the number of bytes removed, or -1 with errno set.
long long DropPartialTail(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return -1;
  off_t end = st.st_size;
  if (end == 0) return 0;
  char chunk[8192];
  off_t pos = end;
  while (pos > 0) {
    size_t n = static_cast<size_t>(pos < static_cast<off_t>(sizeof(chunk)) ? pos : sizeof(chunk));
    ssize_t got = ::pread(fd, chunk, n, pos - static_cast<off_t>(n));
    if (got != static_cast<ssize_t>(n)) {
      if (got >= 0) errno = EIO;
      return -1;
    }
    for (size_t i = n; i > 0; --i) {
      if (chunk[i - 1] == '\n') {
        off_t keep = pos - static_cast<off_t>(n) + static_cast<off_t>(i);
        if (keep == end) return 0;
        if (::ftruncate(fd, keep) != 0) return -1;
        return static_cast<long long>(end - keep);
      }
    }
    pos -= static_cast<off_t>(n);
  }
  if (::ftruncate(fd, 0) != 0) return -1;
  return static_cast<long long>(end);
}

esdb_sink_status Open(const esdb_sink_kv* settings, size_t count, const esdb_sink_host* host,
                      esdb_sink_instance** out, char* err, size_t err_size) {
  return esdb_plugin::Guarded("open failed", ESDB_SINK_FATAL, err, err_size, [&]() -> esdb_sink_status {
    const char* path = Setting(settings, count, "path");
    const char* sync = Setting(settings, count, "fsync");
    if (path == nullptr || path[0] == '\0') {
      CopyError("path: required", err, err_size);
      return ESDB_SINK_INVALID_CONFIG;
    }
    if (sync != nullptr && std::strcmp(sync, "true") != 0 && std::strcmp(sync, "false") != 0) {
      CopyError(std::string("fsync: '") + sync + "' is not true or false", err, err_size);
      return ESDB_SINK_INVALID_CONFIG;
    }
    auto sink = std::make_unique<FileSink>();
    sink->host = host;
    sink->path = path;
    sink->sync = sync == nullptr || std::strcmp(sync, "true") == 0;

    struct stat st;
    bool existed = ::stat(path, &st) == 0;
    bool readable = true;
    sink->fd = ::open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (sink->fd < 0 && errno == EACCES) {  // write-only permission: no tail repair then
      readable = false;
      sink->fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    }
    if (sink->fd < 0) {
      int error = errno;
      CopyError("path: " + ErrnoText("cannot open", sink->path, error), err, err_size);
      return IsConfigError(error) ? ESDB_SINK_INVALID_CONFIG : ESDB_SINK_RETRY;
    }
    if (::fstat(sink->fd, &st) != 0 || !S_ISREG(st.st_mode)) sink->regular = false;
    if (sink->regular && readable) {
      long long dropped = DropPartialTail(sink->fd);
      if (dropped < 0) {
        int error = errno;
        CopyError(ErrnoText("cannot check the end of", sink->path, error), err, err_size);
        ::close(sink->fd);
        return ESDB_SINK_RETRY;
      }
      if (dropped > 0) {
        sink->Log(ESDB_SINK_LOG_WARN,
                  "file-sink: removed " + std::to_string(dropped) + " bytes of a partial last " +
                      "line left by an interrupted write from '" + sink->path + "'");
      }
    }
    if (!existed && sink->sync) SyncParentDirectory(sink->path);
    sink->Log(ESDB_SINK_LOG_INFO, "file-sink: appending to '" + sink->path + "' (fsync " +
                                      (sink->sync ? "after each batch)" : "off)"));
    *out = reinterpret_cast<esdb_sink_instance*>(sink.release());
    return ESDB_SINK_OK;
  });
}

// Undoes the `written` bytes that a failed batch left at the end of the file.
void CutOff(const FileSink& sink, size_t written) {
  if (written == 0 || !sink.regular) return;
  off_t end = ::lseek(sink.fd, 0, SEEK_CUR);  // with O_APPEND: just past our last byte
  if (end >= static_cast<off_t>(written)) {
    if (::ftruncate(sink.fd, end - static_cast<off_t>(written)) != 0) {
      sink.Log(ESDB_SINK_LOG_ERROR, ErrnoText("cannot cut a failed batch off", sink.path, errno));
    }
  }
}

// The text of a failed write, or "" on success.
std::string AppendBatch(FileSink& sink) {
  const char* data = sink.buffer.data();
  size_t left = sink.buffer.size();
  size_t written = 0;
  while (left > 0) {
    ssize_t n = ::write(sink.fd, data + written, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      CutOff(sink, written);
      return ErrnoText("write to", sink.path, error) + " (will retry)";
    }
    written += static_cast<size_t>(n);
    left -= static_cast<size_t>(n);
  }
  if (sink.sync && ::fdatasync(sink.fd) != 0 && errno != EINVAL && errno != EROFS) {
    // EINVAL/EROFS: a pipe or device that cannot be synced; there is nothing more to do.
    int error = errno;
    CutOff(sink, written);
    return ErrnoText("fdatasync of", sink.path, error) + " (will retry)";
  }
  return "";
}

void Write(esdb_sink_instance* instance, const esdb_sink_record* const* records, size_t count,
           esdb_sink_completion_fn done, void* done_ctx) {
  auto* sink = reinterpret_cast<FileSink*>(instance);
  std::string failure;
  try {
    size_t estimate = 0;
    for (size_t i = 0; i < count; ++i) {
      estimate += 256 + records[i]->data_size * 4 / 3 + records[i]->metadata_size * 4 / 3;
    }
    sink->buffer.clear();
    sink->buffer.reserve(estimate);
    for (size_t i = 0; i < count; ++i) AppendJsonLine(*records[i], sink->buffer);
    failure = AppendBatch(*sink);
    if (sink->buffer.capacity() > kMaxKeptBuffer) std::string().swap(sink->buffer);
  } catch (const std::bad_alloc&) {
    std::string().swap(sink->buffer);
    done(done_ctx, ESDB_SINK_RETRY, "out of memory while formatting the batch");
    return;
  } catch (...) {
    done(done_ctx, ESDB_SINK_FATAL, "unexpected error while formatting the batch");
    return;
  }
  if (failure.empty()) {
    done(done_ctx, ESDB_SINK_OK, nullptr);
  } else {
    done(done_ctx, ESDB_SINK_RETRY, failure.c_str());
  }
}

esdb_sink_status Flush(esdb_sink_instance* instance, char* err, size_t err_size) {
  auto* sink = reinterpret_cast<FileSink*>(instance);
  if (!sink->regular || ::fdatasync(sink->fd) == 0) return ESDB_SINK_OK;
  try {
    CopyError(ErrnoText("fdatasync of", sink->path, errno), err, err_size);
  } catch (...) {
  }
  return ESDB_SINK_RETRY;
}

void Close(esdb_sink_instance* instance) {
  auto* sink = reinterpret_cast<FileSink*>(instance);
  ::close(sink->fd);
  delete sink;
}

const esdb_sink_plugin kPlugin = {
    sizeof(esdb_sink_plugin),
    ESDB_SINK_ABI_VERSION,
    1,  // min_host_abi_version
    "file-sink",
    "1.0.0",
    "Appends records as JSON Lines to a file; data embedded as JSON or base64.",
    kSettings,
    sizeof(kSettings) / sizeof(kSettings[0]),
    nullptr,  // validate: the settings table says it all; the file is checked at open
    Open,
    Write,
    Flush,
    Close};

}  // namespace
}  // namespace esdb_file_sink

extern "C" ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &esdb_file_sink::kPlugin;
}
