// file-sink (plugins/file): the line format and the file handling around it, through the
// plugin's own C ABI table (esdb_sink_entry) and its internal functions.
//
// Input: parts separated by a line "%%". The first part is what the output file holds before
// the sink opens it ("-" alone: no file). Each further part is one record, its fields separated
// by the byte 0x1f: stream, event type, content type, data, metadata, created (microseconds
// since the epoch, decimal).
//
// Properties:
//  - IsJson agrees with nlohmann_json on every data and metadata value (json_check.h promises
//    the same documents strict parsers accept; a UTF-8 byte order mark is the one documented
//    difference, and nlohmann_json stops reading at a NUL byte, which strict JSON never has);
//  - each line is one JSON object ending in the only '\n', whose data and metadata are the
//    record's bytes: embedded as they are when JSON, else base64 that decodes back to them;
//  - the sink only ever removes a partial last line from a file it opens: afterwards the file
//    is a prefix of what it held, cut at a line end, followed by exactly the lines written. A
//    sink that refuses the file leaves it as it was.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "esdb/sink.h"
#include "file/json_check.h"
#include "file/json_line.h"
#include "fuzz/fuzz_check.h"
#include "nlohmann/json.hpp"

extern "C" const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version);

namespace {

// One file per process, replaced for every input.
const std::string& OutputPath() {
  static const std::string* path = [] {
    std::string dir = std::filesystem::temp_directory_path() / "esdb-file-sink-fuzz-XXXXXX";
    FUZZ_CHECK(::mkdtemp(dir.data()) != nullptr);
    return new std::string(dir + "/out.jsonl");
  }();
  return *path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

struct Record {
  std::string stream, event_type, content_type, data, metadata;
  int64_t created = 0;
};

Record RecordOf(std::string_view part) {
  std::vector<std::string_view> f = esdb::fuzz::Split(part, "\x1f");
  f.resize(std::max<size_t>(f.size(), 6));
  Record r{std::string(f[0]), std::string(f[1]), std::string(f[2]), std::string(f[3]),
           std::string(f[4])};
  (void)absl::SimpleAtoi(esdb::fuzz::Absl(f[5]), &r.created);
  return r;
}


// False (and nothing checked) for a known open difference.
bool CheckIsJsonAgrees(const std::string& bytes) {
  if (bytes.starts_with("\xEF\xBB\xBF")) return true;  // the documented difference
  const bool ours = esdb_file_sink::IsJson(bytes.data(), bytes.size());
  // nlohmann_json takes a NUL byte for the end of its input; strict JSON never holds one.
  const bool reference = bytes.find('\0') == std::string::npos && nlohmann::json::accept(bytes);
  FUZZ_CHECK(ours == reference, "IsJson says %d, nlohmann_json %d, for: %s", ours, reference,
             bytes.c_str());
  return true;
}

// The field holds `bytes`: as embedded JSON (when `may_embed`) or as base64 text.
void CheckField(const nlohmann::json& field, const std::string& bytes, bool may_embed) {
  if (may_embed && esdb_file_sink::IsJson(bytes.data(), bytes.size())) {
    FUZZ_CHECK(field == nlohmann::json::parse(bytes), "embedded JSON differs from the record's");
    return;
  }
  FUZZ_CHECK(field.is_string(), "neither JSON nor base64");
  std::string decoded;
  FUZZ_CHECK(absl::Base64Unescape(field.get<std::string>(), &decoded) && decoded == bytes,
             "base64 does not decode to the record's bytes");
}

void CheckLine(const esdb_sink_record& record, const Record& r, const std::string& line) {
  FUZZ_CHECK(!line.empty() && line.back() == '\n' && line.find('\n') == line.size() - 1,
             "not one line: %s", line.c_str());
  nlohmann::json object = nlohmann::json::parse(line, nullptr, false);
  FUZZ_CHECK(object.is_object(), "not a JSON object: %s", line.c_str());
  FUZZ_CHECK(object["position"] == record.commit_position);
  FUZZ_CHECK(object["revision"] == record.revision);
  FUZZ_CHECK(object["created"].is_string());
  const std::string& type = r.content_type;
  const bool json_type = type.size() >= 16 &&
                         strncasecmp(type.c_str(), "application/json", 16) == 0 &&
                         (type.size() == 16 || type[16] == ';' || type[16] == ' ');
  CheckField(object["data"], r.data, json_type);
  if (r.metadata.empty()) {
    FUZZ_CHECK(object["metadata"].is_null());
  } else {
    CheckField(object["metadata"], r.metadata, true);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string_view> parts = esdb::fuzz::Split(esdb::fuzz::AsText(data, size), "\n%%\n");
  const std::string& path = OutputPath();
  ::unlink(path.c_str());
  const bool existed = parts[0] != "-";
  const std::string before(parts[0]);
  if (existed) {
    std::ofstream(path, std::ios::binary) << before;
  }

  std::vector<Record> records;
  for (size_t i = 1; i < parts.size(); ++i) {
    records.push_back(RecordOf(parts[i]));
  }
  std::vector<esdb_sink_record> abi(records.size());
  std::vector<const esdb_sink_record*> pointers;
  std::string lines;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    if (!CheckIsJsonAgrees(r.data) || !CheckIsJsonAgrees(r.metadata)) return 0;
    esdb_sink_record& a = abi[i];
    a.struct_size = sizeof(a);
    a.stream = r.stream.c_str();
    a.revision = i;
    a.commit_position = a.prepare_position = 1000 + i;
    a.event_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    a.event_type = r.event_type.c_str();
    a.content_type = r.content_type.c_str();
    a.data = reinterpret_cast<const uint8_t*>(r.data.data());
    a.data_size = r.data.size();
    a.metadata = reinterpret_cast<const uint8_t*>(r.metadata.data());
    a.metadata_size = r.metadata.size();
    a.created_unix_us = r.created;
    std::string line;
    esdb_file_sink::AppendJsonLine(a, line);
    Record as_seen = r;
    as_seen.content_type = a.content_type;  // a C string through the ABI: cut at a NUL
    CheckLine(a, as_seen, line);
    lines += line;
    pointers.push_back(&a);
  }

  const esdb_sink_plugin* plugin = esdb_sink_entry(ESDB_SINK_ABI_VERSION);
  FUZZ_CHECK(plugin != nullptr);
  const esdb_sink_kv settings[] = {{"path", path.c_str()}, {"fsync", "false"}};
  esdb_sink_host host{sizeof(esdb_sink_host), ESDB_SINK_ABI_VERSION, nullptr, nullptr, "fuzz"};
  esdb_sink_instance* sink = nullptr;
  char err[256] = "";
  const esdb_sink_status opened = plugin->open(settings, 2, &host, &sink, err, sizeof(err));
  if (opened != ESDB_SINK_OK) {
    FUZZ_CHECK(!existed || ReadFile(path) == before, "a refused open changed the file");
    return 0;
  }
  if (!pointers.empty()) {
    esdb_sink_status written = ESDB_SINK_FATAL;
    plugin->write(
        sink, pointers.data(), pointers.size(),
        [](void* ctx, esdb_sink_status status, const char*) {
          *static_cast<esdb_sink_status*>(ctx) = status;
        },
        &written);
    FUZZ_CHECK(written == ESDB_SINK_OK);
  }
  plugin->close(sink);

  const std::string after = ReadFile(path);
  FUZZ_CHECK(after.size() >= lines.size() && after.ends_with(lines),
             "the file does not end with the lines written");
  const std::string kept = after.substr(0, after.size() - lines.size());
  if (!existed) {
    // A file it created starts with its header line, naming the connector.
    FUZZ_CHECK(kept == "{\"esdbFileSink\":{\"version\":1,\"connectorId\":\"fuzz\"}}\n",
               "a new file starts with '%s'", kept.c_str());
    return 0;
  }
  FUZZ_CHECK(before.starts_with(kept) && (kept.empty() || kept.back() == '\n'),
             "the sink changed more than a partial last line");
  FUZZ_CHECK(before.find('\n', kept.size()) == std::string::npos, "the sink removed whole lines");
  return 0;
}
