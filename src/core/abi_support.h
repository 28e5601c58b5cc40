// For C++ code on either side of the C ABIs (esdb/abi.h): error text into a caller's buffer, and
// a caller's struct read at this side's size. Header-only, so that every host, the library and
// the test nodes share one copy of the rule.
#ifndef ESDB_CORE_ABI_SUPPORT_H_
#define ESDB_CORE_ABI_SUPPORT_H_

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "absl/strings/string_view.h"
#include "esdb/abi.h"

namespace esdb {

// Writes `text` into the caller's buffer err[0..err_size), truncated to fit and always
// NUL-terminated; writes nothing when err is NULL or err_size is 0.
inline void WriteError(char* err, size_t err_size, absl::string_view text) {
  if (err == nullptr || err_size == 0) return;
  const size_t n = std::min(text.size(), err_size - 1);
  std::memcpy(err, text.data(), n);
  err[n] = '\0';
}

// A copy of an ABI struct another side wrote, laid out as this side knows it: fields beyond the
// writer's struct_size read as zero (NULL), bytes beyond this side's sizeof are not read, and
// the copy's struct_size is this side's.
template <typename T>
T CopyAbiStruct(const T& in) {
  static_assert(std::is_trivially_copyable_v<T>, "ABI structs are plain C data");
  T out{};
  const size_t n = std::min<size_t>(in.struct_size, sizeof(T));
  std::memcpy(static_cast<void*>(&out), static_cast<const void*>(&in), n);
  out.struct_size = sizeof(T);
  return out;
}

}  // namespace esdb

#endif  // ESDB_CORE_ABI_SUPPORT_H_
