#include "sinks/dl_library.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace esdb {

void DlLibrary::Closer::operator()(void* handle) const {
  if (handle != nullptr) dlclose(handle);
}

namespace {

// Checked before dlopen because dlerror() words a missing file like any other failure, and
// because a bare name would make dlopen() search the library path instead of failing.
absl::Status CheckFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("sink plugin file '", path, "' cannot be read: ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("sink plugin file '", path, "' is not a regular file"));
  }
  return absl::OkStatus();
}

// dlopen(RTLD_NOW | RTLD_LOCAL) of `file`, with errors naming `path`.
absl::StatusOr<void*> Load(const std::string& file, const std::string& path) {
  // dlopen treats a name without '/' as a library to search for, never as a relative path.
  std::string load_path = file.find('/') == std::string::npos ? "./" + file : file;
  void* handle = dlopen(load_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return absl::FailedPreconditionError(absl::StrCat(
        "sink plugin file '", path,
        "' is not a loadable shared object: ", why != nullptr ? why : "unknown dlopen error"));
  }
  return handle;
}

}  // namespace

absl::StatusOr<DlLibrary> DlLibrary::Open(const std::string& path) {
  if (absl::Status s = CheckFile(path); !s.ok()) return s;
  absl::StatusOr<void*> handle = Load(path, path);
  if (!handle.ok()) return handle.status();
  return DlLibrary(*handle);
}

absl::StatusOr<DlLibrary> DlLibrary::OpenCopy(const std::string& path, const std::string& copy_dir,
                                              std::string* in_place) {
  in_place->clear();
  if (absl::Status s = CheckFile(path); !s.ok()) return s;
  const std::filesystem::path copy =
      std::filesystem::path(copy_dir) / std::filesystem::path(path).filename();
  std::error_code ec;
  if (!std::filesystem::copy_file(path, copy, std::filesystem::copy_options::overwrite_existing,
                                  ec)) {
    *in_place = absl::StrCat("no copy in ", copy_dir, ": ", ec.message());
    return Open(path);
  }
  absl::StatusOr<void*> handle = Load(copy.string(), path);
  std::filesystem::remove(copy, ec);  // loaded or not, the copy has served
  if (handle.ok()) return DlLibrary(*handle);
  // The copy may fail where the original loads (a temporary folder mounted noexec); a plugin
  // that cannot load at all is reported as the original's failure.
  absl::StatusOr<DlLibrary> original = Open(path);
  if (original.ok()) *in_place = std::string(handle.status().message());
  return original;
}

void* DlLibrary::Find(const char* symbol) const {
  dlerror();  // clear any stale error so a NULL result is judged on this lookup alone
  return dlsym(handle_.get(), symbol);
}

}  // namespace esdb
