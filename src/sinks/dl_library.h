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

  // Like Open, but loads a private copy of the file, made in `copy_dir` and removed again as soon
  // as it is loaded (the mapping keeps its data), so that the code the host runs no longer
  // depends on the file: rewriting it in place while the host runs (`cp` over it) cannot change
  // or unmap loaded code. When no copy can be made or loaded there (a full or noexec folder),
  // loads the file in place and says why in *in_place (left empty otherwise). Errors name `path`.
  static absl::StatusOr<DlLibrary> OpenCopy(const std::string& path, const std::string& copy_dir,
                                            std::string* in_place);

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
