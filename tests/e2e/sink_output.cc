#include "sink_output.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace esdb::e2e {
namespace {

using nlohmann::json;

std::optional<std::string> ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

constexpr std::string_view kHeaderStart = R"({"esdbFileSink":)";

// The connector id of a file-sink header line; an error for any other line.
absl::StatusOr<std::string> ParseHeader(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.size() != 1 || !j.contains("esdbFileSink") ||
      !j["esdbFileSink"].is_object() || j["esdbFileSink"].value("version", 0) != 1 ||
      !j["esdbFileSink"].contains("connectorId") || !j["esdbFileSink"]["connectorId"].is_string()) {
    return absl::DataLossError(
        absl::StrCat("not a file-sink header: '", std::string(text.substr(0, 300)), "'"));
  }
  return j["esdbFileSink"]["connectorId"].get<std::string>();
}

// Bytes of the header line ('\n' included) at the start of `text`, 0 when there is none yet.
size_t HeaderBytes(std::string_view text) {
  if (text.substr(0, kHeaderStart.size()) != kHeaderStart) return 0;
  size_t end = text.find('\n');
  return end == std::string_view::npos ? 0 : end + 1;
}

absl::StatusOr<OutputLine> ParseLine(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("position") || !j["position"].is_number_unsigned() ||
      !j.contains("stream") || !j["stream"].is_string() || !j.contains("revision") ||
      !j["revision"].is_number_unsigned() || !j.contains("eventId") || !j["eventId"].is_string()) {
    return absl::DataLossError(
        absl::StrCat("not a file-sink record: '", std::string(text.substr(0, 300)), "'"));
  }
  OutputLine line;
  line.position = j["position"].get<uint64_t>();
  line.stream = j["stream"].get<std::string>();
  line.revision = j["revision"].get<uint64_t>();
  line.event_id = j["eventId"].get<std::string>();
  if (j.contains("eventType") && j["eventType"].is_string()) line.event_type = j["eventType"];
  return line;
}

}  // namespace

absl::StatusOr<SinkOutput> ReadSinkOutput(const std::filesystem::path& path) {
  SinkOutput out;
  std::optional<std::string> text = ReadAll(path);
  if (!text) return out;
  out.exists = true;
  size_t start = 0;
  size_t number = 0;
  if (!text->empty()) {
    size_t end = text->find('\n');
    if (end == std::string::npos) {
      return absl::DataLossError(absl::StrCat(path.string(), ": the header line is incomplete"));
    }
    auto id = ParseHeader(std::string_view(*text).substr(0, end));
    if (!id.ok()) {
      return absl::DataLossError(absl::StrCat(path.string(), " line 1: ", id.status().message()));
    }
    out.connector_id = *std::move(id);
    start = end + 1;
    number = 1;
  }
  while (true) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) break;
    ++number;
    auto line = ParseLine(std::string_view(*text).substr(start, end - start));
    if (!line.ok()) {
      return absl::DataLossError(
          absl::StrCat(path.string(), " line ", number, ": ", line.status().message()));
    }
    out.lines.push_back(*std::move(line));
    start = end + 1;
  }
  out.partial_tail_bytes = text->size() - start;
  return out;
}

OutputShape InspectSinkOutput(const std::filesystem::path& path) {
  OutputShape shape;
  std::optional<std::string> text = ReadAll(path);
  if (!text) return shape;
  const size_t header = HeaderBytes(*text);
  shape.lines = static_cast<size_t>(std::count(text->begin() + header, text->end(), '\n'));
  const size_t last_newline = text->rfind('\n');
  if (last_newline == std::string::npos || last_newline < header) {
    shape.partial_tail_bytes = text->size() - header;
    return shape;
  }
  shape.partial_tail_bytes = text->size() - last_newline - 1;
  const size_t previous =
      last_newline == 0 ? std::string::npos : text->rfind('\n', last_newline - 1);
  const size_t begin = previous == std::string::npos ? 0 : previous + 1;
  auto line = ParseLine(std::string_view(*text).substr(begin, last_newline - begin));
  if (line.ok()) shape.last_position = line->position;
  return shape;
}

size_t CountCompleteLines(const std::filesystem::path& path) {
  std::optional<std::string> text = ReadAll(path);
  if (!text) return 0;
  return static_cast<size_t>(std::count(text->begin() + HeaderBytes(*text), text->end(), '\n'));
}

std::optional<uint64_t> LastCompletePosition(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return std::nullopt;
  const std::streamoff size = in.tellg();
  // A record is far shorter than this, so the window always holds the whole last line.
  const std::streamoff window = std::min<std::streamoff>(size, 64 * 1024);
  std::string tail(static_cast<size_t>(window), '\0');
  in.seekg(size - window);
  in.read(tail.data(), window);
  size_t last_newline = tail.rfind('\n');
  if (last_newline == std::string::npos) return std::nullopt;
  size_t begin = 0;
  if (last_newline > 0) {
    size_t previous = tail.rfind('\n', last_newline - 1);
    if (previous != std::string::npos) {
      begin = previous + 1;
    } else if (window < size) {
      return std::nullopt;  // a line longer than the window: not a record of ours
    }
  }
  auto line = ParseLine(std::string_view(tail).substr(begin, last_newline - begin));
  if (!line.ok()) return std::nullopt;
  return line->position;
}

}  // namespace esdb::e2e
