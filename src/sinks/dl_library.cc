#include "sinks/dl_library.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace esdb {

void DlLibrary::Closer::operator()(void* handle) const {
  if (handle != nullptr) dlclose(handle);
}

absl::StatusOr<DlLibrary> DlLibrary::Open(const std::string& path) {
  // Checked first because dlerror() words a missing file like any other failure, and because a
  // bare name would make dlopen() search the library path instead of failing.
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("sink plugin file '", path, "' cannot be read: ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("sink plugin file '", path, "' is not a regular file"));
  }
  // dlopen treats a name without '/' as a library to search for, never as a relative path.
  std::string load_path = path.find('/') == std::string::npos ? "./" + path : path;
  void* handle = dlopen(load_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return absl::FailedPreconditionError(absl::StrCat(
        "sink plugin file '", path,
        "' is not a loadable shared object: ", why != nullptr ? why : "unknown dlopen error"));
  }
  return DlLibrary(handle);
}

void* DlLibrary::Find(const char* symbol) const {
  dlerror();  // clear any stale error so a NULL result is judged on this lookup alone
  return dlsym(handle_.get(), symbol);
}

}  // namespace esdb
