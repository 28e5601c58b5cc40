// file-sink: appends every record as one line of JSON (JSON Lines) to a file.
//
// Durability: each batch is formatted in memory and appended with one write() (looping only on
// a short write), then, with fsync=true, made durable with fdatasync() before the batch is
// acknowledged. A failed batch is cut off again, so a retry never leaves half a batch behind.
// A process killed in the middle of a write() can still leave a partial last line; readers must
// ignore a trailing line without '\n'. On open the sink removes such a tail (it was never
// acknowledged) so that the next record starts on a line of its own.
//
// The sink only writes to files it created: the first line of each names the connector
// (output_file.h), and a file without this connector's header is refused before anything in it
// is changed, so the recovery above can never cut into someone else's data.
//
// The file is meant to have one writer: truncating a failed batch assumes nobody else appends.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "common/cxx_boundary.h"
#include "esdb/sink.h"
#include "json_line.h"
#include "output_file.h"

namespace esdb_file_sink {
namespace {

const esdb_sink_setting kPath = {sizeof(esdb_sink_setting),
                                 "path",
                                 ESDB_SINK_SETTING_STRING,
                                 nullptr,
                                 1,
                                 0,
                                 "JSON Lines file the records are appended to; created if missing, "
                                 "else it must be this connector's earlier output.",
                                 nullptr, ESDB_SINK_TARGET_FILE};
const esdb_sink_setting kFsync = {sizeof(esdb_sink_setting),
                                  "fsync",
                                  ESDB_SINK_SETTING_BOOL,
                                  "true",
                                  0,
                                  0,
                                  "Make each batch durable (fdatasync) before acknowledging it.",
                                  nullptr,
                                  ESDB_SINK_TARGET_NONE};
const esdb_sink_setting* const kSettings[] = {&kPath, &kFsync};

// Batches above this leave their buffer behind rather than keep it for the next one.
constexpr size_t kMaxKeptBuffer = size_t{16} << 20;

struct FileSink {
  const esdb_sink_host* host = nullptr;
  std::string path;
  int fd = -1;
  bool sync = true;
  std::string buffer;

  ~FileSink() {
    if (fd >= 0) ::close(fd);
  }
  void Log(esdb_sink_log_level level, const std::string& line) const {
    if (host != nullptr && ESDB_HAS_FUNCTION(esdb_sink_host, host, log)) {
      host->log(host->ctx, level, line.c_str());
    }
  }
};

using esdb_plugin::CopyError;

const char* Setting(const esdb_sink_kv* settings, size_t count, const char* key) {
  for (size_t i = 0; i < count; ++i) {
    if (std::strcmp(settings[i].key, key) == 0) return settings[i].value;
  }
  return nullptr;
}

// Bytes below 0x20 and DEL: never part of a path anyone means, and a NUL would cut it short.
bool HasControl(const char* text) {
  for (const unsigned char* p = reinterpret_cast<const unsigned char*>(text); *p != 0; ++p) {
    if (*p < 0x20 || *p == 0x7f) return true;
  }
  return false;
}

// The checks validate() and open() share: "" or why the settings cannot work.
std::string CheckSettings(const char* path, const char* sync) {
  if (path == nullptr || path[0] == '\0') return "path: required";
  if (HasControl(path)) return "path: contains a control character";
  if (sync != nullptr && std::strcmp(sync, "true") != 0 && std::strcmp(sync, "false") != 0) {
    return std::string("fsync: '") + sync + "' is not true or false";
  }
  return "";
}

// The connector id the host passes, or "" from a host whose struct predates the field.
std::string_view ConnectorId(const esdb_sink_host* host) {
  if (host == nullptr || !ESDB_HAS_FIELD(esdb_sink_host, host, connector_id) ||
      host->connector_id == nullptr) {
    return "";
  }
  return host->connector_id;
}

// Cuts a trailing partial line (bytes after the last '\n') off the file, never below `floor`
// (the end of the header line). Returns the number of bytes removed, or -1 with errno set.
long long DropPartialTail(int fd, off_t floor) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return -1;
  const off_t end = st.st_size;
  char chunk[8192];
  off_t pos = end;
  off_t keep = floor;  // when no line ends after the header, everything after it goes
  while (pos > floor) {
    size_t n = static_cast<size_t>(std::min<off_t>(pos - floor, sizeof(chunk)));
    ssize_t got = ::pread(fd, chunk, n, pos - static_cast<off_t>(n));
    if (got != static_cast<ssize_t>(n)) {
      if (got >= 0) errno = EIO;
      return -1;
    }
    const void* last = ::memrchr(chunk, '\n', n);
    if (last != nullptr) {
      keep = pos - static_cast<off_t>(n) + (static_cast<const char*>(last) - chunk) + 1;
      break;
    }
    pos -= static_cast<off_t>(n);
  }
  if (keep >= end) return 0;
  if (::ftruncate(fd, keep) != 0) return -1;
  return static_cast<long long>(end - keep);
}

esdb_sink_status Validate(const esdb_sink_kv* settings, size_t count, char* err, size_t err_size) {
  return esdb_plugin::Guarded("cannot check the settings", ESDB_SINK_INVALID_CONFIG, err, err_size,
                              [&]() -> esdb_sink_status {
    std::string why = CheckSettings(Setting(settings, count, "path"),
                                    Setting(settings, count, "fsync"));
    if (why.empty()) return ESDB_SINK_OK;
    CopyError(why, err, err_size);
    return ESDB_SINK_INVALID_CONFIG;
  });
}

esdb_sink_status Open(const esdb_sink_kv* settings, size_t count, const esdb_sink_host* host,
                      esdb_sink_instance** out, char* err, size_t err_size) {
  return esdb_plugin::Guarded("open failed", ESDB_SINK_FATAL, err, err_size, [&]() -> esdb_sink_status {
    const char* path = Setting(settings, count, "path");
    const char* sync = Setting(settings, count, "fsync");
    if (std::string why = CheckSettings(path, sync); !why.empty()) {
      CopyError(why, err, err_size);
      return ESDB_SINK_INVALID_CONFIG;
    }
    auto sink = std::make_unique<FileSink>();
    sink->host = host;
    sink->path = path;
    sink->sync = sync == nullptr || std::strcmp(sync, "true") == 0;

    OutputFile file;
    std::string why;
    if (esdb_sink_status s = OpenOutputFile(sink->path, ConnectorId(host), file, why);
        s != ESDB_SINK_OK) {
      CopyError(why, err, err_size);
      return s;
    }
    sink->fd = file.fd;
    long long dropped = DropPartialTail(sink->fd, file.header_end);
    if (dropped < 0) {
      int error = errno;
      CopyError(ErrnoText("cannot check the end of", sink->path, error), err, err_size);
      return ESDB_SINK_RETRY;
    }
    if (dropped > 0) {
      sink->Log(ESDB_SINK_LOG_WARN,
                "file-sink: removed " + std::to_string(dropped) + " bytes of a partial last " +
                    "line left by an interrupted write from '" + sink->path + "'");
    }
    sink->Log(ESDB_SINK_LOG_INFO, std::string("file-sink: ") +
                                      (file.created ? "created '" : "appending to '") +
                                      sink->path + "' (fsync " +
                                      (sink->sync ? "after each batch)" : "off)"));
    *out = reinterpret_cast<esdb_sink_instance*>(sink.release());
    return ESDB_SINK_OK;
  });
}

// Undoes the `written` bytes that a failed batch left at the end of the file.
void CutOff(const FileSink& sink, size_t written) {
  if (written == 0) return;
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
  if (sink.sync && ::fdatasync(sink.fd) != 0) {
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
  if (::fdatasync(sink->fd) == 0) return ESDB_SINK_OK;
  try {
    CopyError(ErrnoText("fdatasync of", sink->path, errno), err, err_size);
  } catch (...) {
  }
  return ESDB_SINK_RETRY;
}

void Close(esdb_sink_instance* instance) { delete reinterpret_cast<FileSink*>(instance); }

const esdb_sink_plugin kPlugin = {
    sizeof(esdb_sink_plugin),
    ESDB_SINK_ABI_VERSION,
    1,  // min_host_abi_version
    "file-sink",
    "1.1.0",
    "Appends records as JSON Lines to a file of its own (first line: a header naming the "
    "connector); data embedded as JSON or base64.",
    kSettings,
    sizeof(kSettings) / sizeof(kSettings[0]),
    Validate,
    Open,
    Write,
    Flush,
    Close,
    0};  // flags

}  // namespace
}  // namespace esdb_file_sink

extern "C" ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &esdb_file_sink::kPlugin;
}
