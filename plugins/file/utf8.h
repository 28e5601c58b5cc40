// file-sink: UTF-8 well-formedness, shared by the JSON checker and the string escaper.
#ifndef ESDB_PLUGINS_FILE_UTF8_H_
#define ESDB_PLUGINS_FILE_UTF8_H_

#include <cstddef>

namespace esdb_file_sink {

// Length (2 to 4) of the well-formed multi-byte UTF-8 sequence at s[0..n), or 0 when there is
// none (overlong forms, UTF-16 surrogates and code points above U+10FFFF are not well-formed).
inline size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < n && s[i] >= lo && s[i] <= hi;
  };
  unsigned char c = s[0];
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

}  // namespace esdb_file_sink

#endif  // ESDB_PLUGINS_FILE_UTF8_H_
