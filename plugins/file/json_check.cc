#include "json_check.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "utf8.h"

namespace esdb_file_sink {
namespace {

class Checker {
 public:
  Checker(const char* text, size_t size)
      : s_(reinterpret_cast<const unsigned char*>(text)), n_(size) {}

  bool Run();

 private:
  bool At(unsigned char c) const { return p_ < n_ && s_[p_] == c; }
  bool IsDigit() const { return p_ < n_ && s_[p_] >= '0' && s_[p_] <= '9'; }
  void SkipSpace() {
    while (p_ < n_ && (s_[p_] == ' ' || s_[p_] == '\n' || s_[p_] == '\r' || s_[p_] == '\t')) ++p_;
  }
  void SkipDigits() {
    while (IsDigit()) ++p_;
  }
  bool Literal(const char* word, size_t len) {
    if (n_ - p_ < len || std::memcmp(s_ + p_, word, len) != 0) return false;
    p_ += len;
    return true;
  }
  bool Hex4(unsigned* value);
  bool String();  // at the opening quote
  bool Number();
  bool Scalar();  // string, number, true, false or null

  // Open containers, innermost last: '{' or '['. Inline up to kInline deep.
  static constexpr size_t kInline = 64;
  void Push(char c) {
    if (depth_ < kInline) {
      inline_[depth_] = c;
    } else {
      deep_.push_back(c);
    }
    ++depth_;
  }
  char Top() const { return depth_ <= kInline ? inline_[depth_ - 1] : deep_.back(); }
  void Pop() {
    if (depth_ > kInline) deep_.pop_back();
    --depth_;
  }

  const unsigned char* s_;
  size_t n_;
  size_t p_ = 0;
  size_t depth_ = 0;
  char inline_[kInline];
  std::string deep_;
};

bool Checker::Hex4(unsigned* value) {
  if (n_ - p_ < 4) return false;
  unsigned v = 0;
  for (int i = 0; i < 4; ++i) {
    unsigned char c = s_[p_++];
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= c - '0';
    } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
      v |= (c | 0x20) - 'a' + 10;
    } else {
      return false;
    }
  }
  *value = v;
  return true;
}

bool Checker::String() {
  ++p_;  // opening quote
  while (p_ < n_) {
    unsigned char c = s_[p_];
    if (c == '"') {
      ++p_;
      return true;
    }
    if (c < 0x20) return false;
    if (c < 0x80 && c != '\\') {
      ++p_;
      continue;
    }
    if (c >= 0x80) {
      size_t len = Utf8SequenceLength(s_ + p_, n_ - p_);
      if (len == 0) return false;
      p_ += len;
      continue;
    }
    ++p_;  // backslash
    if (p_ >= n_) return false;
    c = s_[p_++];
    if (c == 'u') {
      unsigned unit;
      if (!Hex4(&unit)) return false;
      if (unit >= 0xDC00 && unit <= 0xDFFF) return false;  // low surrogate without a high one
      if (unit >= 0xD800 && unit <= 0xDBFF) {
        unsigned low;
        if (n_ - p_ < 2 || s_[p_] != '\\' || s_[p_ + 1] != 'u') return false;
        p_ += 2;
        if (!Hex4(&low) || low < 0xDC00 || low > 0xDFFF) return false;
      }
    } else if (std::strchr("\"\\/bfnrt", c) == nullptr || c == '\0') {
      return false;
    }
  }
  return false;  // unterminated
}

bool Checker::Number() {
  const size_t start = p_;
  if (At('-')) ++p_;
  if (At('0')) {
    ++p_;
  } else if (IsDigit()) {
    SkipDigits();
  } else {
    return false;
  }
  if (At('.')) {
    ++p_;
    if (!IsDigit()) return false;
    SkipDigits();
  }
  if (At('e') || At('E')) {
    ++p_;
    if (At('+') || At('-')) ++p_;
    if (!IsDigit()) return false;
    SkipDigits();
  }
  // Strict parsers refuse what a double cannot hold (1e400): so does this check.
  const std::string text(reinterpret_cast<const char*>(s_ + start), p_ - start);
  return std::isfinite(std::strtod(text.c_str(), nullptr));
}

bool Checker::Scalar() {
  if (p_ >= n_) return false;
  switch (s_[p_]) {
    case '"':
      return String();
    case 't':
      return Literal("true", 4);
    case 'f':
      return Literal("false", 5);
    case 'n':
      return Literal("null", 4);
    default:
      return Number();
  }
}

// Iterative: a value is read (opening any containers it starts), then the loop climbs out of
// the containers that the following ',' / '}' / ']' continue or close.
bool Checker::Run() {
  for (;;) {
    // Expect a value.
    SkipSpace();
    if (At('{')) {
      ++p_;
      SkipSpace();
      if (At('}')) {
        ++p_;
      } else {
        Push('{');
        if (!At('"') || !String()) return false;
        SkipSpace();
        if (!At(':')) return false;
        ++p_;
        continue;
      }
    } else if (At('[')) {
      ++p_;
      SkipSpace();
      if (At(']')) {
        ++p_;
      } else {
        Push('[');
        continue;
      }
    } else if (!Scalar()) {
      return false;
    }
    // After a value: close containers until one continues with ','.
    for (;;) {
      SkipSpace();
      if (depth_ == 0) return p_ == n_;
      char open = Top();
      if (At(',')) {
        ++p_;
        if (open == '{') {
          SkipSpace();
          if (!At('"') || !String()) return false;
          SkipSpace();
          if (!At(':')) return false;
          ++p_;
        }
        break;  // to the next value
      }
      if (!At(open == '{' ? '}' : ']')) return false;
      ++p_;
      Pop();
    }
  }
}

}  // namespace

bool IsJson(const char* text, size_t size) { return Checker(text, size).Run(); }

}  // namespace esdb_file_sink
