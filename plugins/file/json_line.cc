#include "json_line.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

#include "json_check.h"
#include "utf8.h"

namespace esdb_file_sink {
namespace {

void AppendNumber(uint64_t value, std::string& out) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, end);
}

}  // namespace

void AppendJsonString(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  out.push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t len = Utf8SequenceLength(s + i, n - i);
      if (len != 0) {
        i += len;
        continue;
      }
    }
    out.append(text.data() + run, i - run);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        if (c < 0x20) {
          const char escape[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          out.append(escape, sizeof(escape));
        } else {
          out.append("\\ufffd");  // a byte that starts no valid UTF-8 sequence
        }
    }
    ++i;
    run = i;
  }
  out.append(text.data() + run, n - run);
  out.push_back('"');
}

void AppendBase64Text(const uint8_t* data, size_t size, std::string& out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t start = out.size();
  out.resize(start + (size + 2) / 3 * 4);
  char* p = out.data() + start;
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    *p++ = kAlphabet[v >> 18];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
    *p++ = kAlphabet[v & 63];
  }
  if (size - i == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    *p++ = kAlphabet[v >> 18];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = '=';
    *p++ = '=';
  } else if (size - i == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    *p++ = kAlphabet[v >> 18];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
    *p++ = '=';
  }
}

namespace {

void AppendBase64(const uint8_t* data, size_t size, std::string& out) {
  out.push_back('"');
  AppendBase64Text(data, size, out);
  out.push_back('"');
}

// Appends `bytes` as embedded JSON if they are one valid JSON value; false (and nothing appended)
// otherwise. Valid JSON cannot hold a raw line break inside a string, so every CR/LF is
// insignificant whitespace and becomes a space, which keeps the record on one line.
bool AppendIfJson(const uint8_t* bytes, size_t size, std::string& out) {
  if (size == 0) return false;
  const char* begin = reinterpret_cast<const char*>(bytes);
  const char* end = begin + size;
  if (!IsJson(begin, size)) return false;
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (is_space(*begin)) ++begin;  // a valid value is never all whitespace
  while (is_space(end[-1])) --end;
  size_t start = out.size();
  out.append(begin, end);
  char* const last = out.data() + out.size();
  for (char line_break : {'\n', '\r'}) {
    for (char* p = out.data() + start;
         (p = static_cast<char*>(std::memchr(p, line_break, last - p))) != nullptr;) {
      *p++ = ' ';
    }
  }
  return true;
}

bool IsJsonContentType(std::string_view type) {
  constexpr std::string_view kJson = "application/json";
  if (type.size() < kJson.size()) return false;
  for (size_t i = 0; i < kJson.size(); ++i) {
    char c = type[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kJson[i]) return false;
  }
  return type.size() == kJson.size() || type[kJson.size()] == ';' || type[kJson.size()] == ' ';
}

void AppendTwoDigits(unsigned value, std::string& out) {
  out.push_back(static_cast<char>('0' + value / 10));
  out.push_back(static_cast<char>('0' + value % 10));
}

// ISO-8601 UTC with microseconds, e.g. "2024-05-01T12:30:05.000250Z".
void AppendTimestamp(int64_t unix_us, std::string& out) {
  using namespace std::chrono;
  // Rounding down to whole days must not overflow: keep two days clear of the int64 limits.
  constexpr int64_t kMargin = int64_t{2} * 86400 * 1000000;
  unix_us = std::clamp(unix_us, std::numeric_limits<int64_t>::min() + kMargin,
                       std::numeric_limits<int64_t>::max() - kMargin);
  const sys_time<microseconds> t{microseconds{unix_us}};
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<microseconds> time{t - day};
  out.push_back('"');
  int y = static_cast<int>(ymd.year());
  if (y >= 0 && y <= 9999) {
    AppendTwoDigits(static_cast<unsigned>(y / 100), out);
    AppendTwoDigits(static_cast<unsigned>(y % 100), out);
  } else {
    char digits[16];
    auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), y);
    out.append(digits, end);
  }
  out.push_back('-');
  AppendTwoDigits(static_cast<unsigned>(ymd.month()), out);
  out.push_back('-');
  AppendTwoDigits(static_cast<unsigned>(ymd.day()), out);
  out.push_back('T');
  AppendTwoDigits(static_cast<unsigned>(time.hours().count()), out);
  out.push_back(':');
  AppendTwoDigits(static_cast<unsigned>(time.minutes().count()), out);
  out.push_back(':');
  AppendTwoDigits(static_cast<unsigned>(time.seconds().count()), out);
  out.push_back('.');
  unsigned us = static_cast<unsigned>(time.subseconds().count());
  AppendTwoDigits(us / 10000, out);
  AppendTwoDigits(us / 100 % 100, out);
  AppendTwoDigits(us % 100, out);
  out.append("Z\"");
}

std::string_view Text(const char* s) { return s != nullptr ? std::string_view(s) : ""; }

}  // namespace

void AppendJsonLine(const esdb_sink_record& r, std::string& out) {
  out.append("{\"position\":");
  AppendNumber(r.commit_position, out);
  out.append(",\"stream\":");
  AppendJsonString(Text(r.stream), out);
  out.append(",\"revision\":");
  AppendNumber(r.revision, out);
  out.append(",\"eventId\":");
  AppendJsonString(Text(r.event_id), out);
  out.append(",\"eventType\":");
  AppendJsonString(Text(r.event_type), out);
  out.append(",\"contentType\":");
  AppendJsonString(Text(r.content_type), out);
  out.append(",\"data\":");
  if (!IsJsonContentType(Text(r.content_type)) || !AppendIfJson(r.data, r.data_size, out)) {
    AppendBase64(r.data, r.data_size, out);
  }
  out.append(",\"metadata\":");
  if (r.metadata_size == 0) {
    out.append("null");
  } else if (!AppendIfJson(r.metadata, r.metadata_size, out)) {
    AppendBase64(r.metadata, r.metadata_size, out);
  }
  out.append(",\"created\":");
  AppendTimestamp(r.created_unix_us, out);
  out.append("}\n");
}

}  // namespace esdb_file_sink
