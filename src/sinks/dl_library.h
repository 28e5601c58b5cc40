// RAII ownership of a dlopen() handle, so every early return of the loader closes the library.
#ifndef ESDB_SINKS_DL_LIBRARY_H_
#define ESDB_SINKS_DL_LIBRARY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace esdb {

class DlLibrary {
 public:
  // dlopen(path, RTLD_NOW | RTLD_LOCAL). NotFound when the file does not exist;
  // FailedPrecondition with the loader's own text (dlerror) for anything else, e.g. a file that is
  // not a shared object or one with unresolved symbols.
  static absl::StatusOr<DlLibrary> Open(const std::string& path);

  // Address of `symbol`, or nullptr when the library does not define it.
  void* Find(const char* symbol) const;

  // Gives up ownership; the caller must dlclose() the handle.
  void* Release() { return handle_.release(); }

 private:
  struct Closer {
    void operator()(void* handle) const;
  };
  explicit DlLibrary(void* handle) : handle_(handle) {}
  std::unique_ptr<void, Closer> handle_;
};

}  // namespace esdb

#endif  // ESDB_SINKS_DL_LIBRARY_H_
