// file-sink (plugins/file) through the loader: the exact JSON Lines format, the header line that
// marks the sink's own files, durability options, crash leftovers and error handling.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sinks/fsync_counter.h"
#include "sinks/plugin.h"
#include "sinks/test_support.h"

namespace esdb {
namespace {

using ::esdb::testing::LogCapture;
using ::esdb::testing::MakeRecord;
using ::esdb::testing::PluginPath;
using ::esdb::testing::ReadFile;
using ::esdb::testing::TempDir;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The first line of every file the sink writes for connector `id`.
std::string Header(const std::string& id) {
  return R"({"esdbFileSink":{"version":1,"connectorId":")" + id + "\"}}\n";
}

// Sets the process's file size limit for as long as it lives, with SIGXFSZ ignored so that a
// write past the limit fails with EFBIG instead of killing the test.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    EXPECT_EQ(getrlimit(RLIMIT_FSIZE, &saved_), 0);
    struct sigaction ignore = {};
    ignore.sa_handler = SIG_IGN;
    EXPECT_EQ(sigaction(SIGXFSZ, &ignore, &old_action_), 0);
    struct rlimit limited = saved_;
    limited.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  }
  ~FileSizeLimit() {
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &saved_), 0);
    EXPECT_EQ(sigaction(SIGXFSZ, &old_action_, nullptr), 0);
  }

 private:
  struct rlimit saved_;
  struct sigaction old_action_;
};

class FileSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_ = testing::LoadOrFail(PluginPath("file"));
    ASSERT_NE(plugin_, nullptr);
    path_ = dir_.File("out.jsonl");
  }

  std::unique_ptr<Sink> Open(SettingsMap settings = {}) {
    settings.emplace("path", path_);
    auto sink = plugin_->Open({"conn-file"}, settings, log_.Fn());
    EXPECT_TRUE(sink.ok()) << sink.status();
    return sink.ok() ? *std::move(sink) : nullptr;
  }

  // Writes `records` through a fresh sink and returns the file's records: its content after the
  // header line, which must be there.
  std::string WriteAll(const std::vector<Record>& records) {
    std::unique_ptr<Sink> sink = Open();
    if (sink == nullptr) return "";
    SinkResult r = sink->Write(records);
    EXPECT_EQ(r.outcome, SinkOutcome::kOk) << r.message;
    std::string content = ReadFile(path_);
    const std::string header = Header("conn-file");
    EXPECT_THAT(content, StartsWith(header));
    return content.compare(0, header.size(), header) == 0 ? content.substr(header.size()) : "";
  }

  std::string Line(const Record& record) { return WriteAll({record}); }

  std::unique_ptr<SinkPlugin> plugin_;
  TempDir dir_;
  std::string path_;
  LogCapture log_;
};

TEST_F(FileSinkTest, JsonRecordIsOneLineWithEmbeddedJson) {
  Record r = MakeRecord("orders-7", 3, 4096, "OrderShipped", "{\"id\": 7,\n \"tags\":[\"a\"]}\r\n");
  r.metadata = R"({"by":"me"})";
  EXPECT_EQ(Line(r),
            R"({"position":4096,"stream":"orders-7","revision":3,)"
            R"("eventId":"0c7d2f4e-1b2a-4c3d-9e8f-102030405060","eventType":"OrderShipped",)"
            R"("contentType":"application/json","data":{"id": 7,  "tags":["a"]},)"
            R"("metadata":{"by":"me"},"created":"2024-05-01T12:30:05.000250Z"})"
            "\n");
}

TEST_F(FileSinkTest, BinaryDataIsBase64AndEmptyMetadataIsNull) {
  Record r = MakeRecord("bin", 0, 1, "Blob", std::string("\x00\x01\xfe\xff", 4));
  r.content_type = "application/octet-stream";
  nlohmann::json j = nlohmann::json::parse(Line(r));
  EXPECT_EQ(j["data"], "AAH+/w==");
  EXPECT_TRUE(j["metadata"].is_null());
  EXPECT_EQ(j["contentType"], "application/octet-stream");
}

TEST_F(FileSinkTest, DataIsEmbeddedOnlyWhenDeclaredJsonAndValid) {
  Record invalid = MakeRecord("s", 0, 1, "T", "{not json");
  Record undeclared = MakeRecord("s", 1, 2, "T", "{}");
  undeclared.content_type = "application/octet-stream";
  Record with_charset = MakeRecord("s", 2, 3, "T", "[1,2]");
  with_charset.content_type = "application/json; charset=utf-8";
  Record scalar = MakeRecord("s", 3, 4, "T", "\"just text\"");
  Record empty = MakeRecord("s", 4, 5, "T", "");
  std::vector<std::string> lines = absl::StrSplit(
      WriteAll({invalid, undeclared, with_charset, scalar, empty}), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["data"], "e25vdCBqc29u");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["data"], "e30=");
  EXPECT_EQ(nlohmann::json::parse(lines[2])["data"], nlohmann::json::array({1, 2}));
  EXPECT_EQ(nlohmann::json::parse(lines[3])["data"], "just text");
  EXPECT_EQ(nlohmann::json::parse(lines[4])["data"], "");
}

std::string Base64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : bytes) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out.push_back(kAlphabet[(bits >> count) & 63]);
    }
  }
  if (count > 0) out.push_back(kAlphabet[(bits << (6 - count)) & 63]);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

// The plugin has its own JSON checker (for speed); it must agree with a full parser on what is
// JSON, or the output would hold lines that do not parse. nlohmann_json is the oracle here, on
// hand-picked edge cases and on deterministic random mutations of them.
TEST_F(FileSinkTest, EmbedsExactlyWhatAStrictParserAccepts) {
  std::vector<std::string> docs = {"{}",
                                   "[]",
                                   " [1, 2 ,3] ",
                                   "{\"a\":}",
                                   "[1,]",
                                   "{\"a\":1,}",
                                   "01",
                                   "-0",
                                   "-0.0e+5",
                                   "1.",
                                   ".5",
                                   "1e",
                                   "1E+",
                                   "\"\\u00e9\"",
                                   "\"\\ud83d\\ude00\"",
                                   "\"\\ud83d\"",
                                   "\"\\ude00\"",
                                   "\"\\ud83dx\"",
                                   "\"\\ud83d\\u0041\"",
                                   "\"\\x\"",
                                   "\"tab\there\"",
                                   "\"\xc3\xa9\"",
                                   "\"\xc3\"",
                                   "\"\xed\xa0\x80\"",
                                   "\"\xf4\x90\x80\x80\"",
                                   "\"\xe0\x80\xaf\"",
                                   "\"\xf0\x9f\x98\x80\"",
                                   "truex",
                                   "tru",
                                   "nul",
                                   "null null",
                                   "true",
                                   "false",
                                   "null",
                                   "[[[[[]]]]]",
                                   "{\"a\":[{\"b\":null,\"c\":[true,false,-1.5e-3]}]}",
                                   "{\"a\" 1}",
                                   "{1:2}",
                                   "[\"open]",
                                   std::string("[1,\0]", 5),
                                   std::string("\"a\0\"", 4),
                                   "\"a\\\"b\"",
                                   "\"\\/\\b\\f\\n\\r\\t\"",
                                   "{\"k\":\"v\"}\n",
                                   "[1 2]",
                                   "{\"a\":1 \"b\":2}",
                                   "[-]",
                                   "[--1]",
                                   "[+1]",
                                   "[1e5]",
                                   "[1e400]",
                                   "[-1e400]",
                                   "[1e-400]",
                                   "[123456789012345678901234567890]",
                                   "[1.5E-3]",
                                   "[Infinity]",
                                   "[NaN]",
                                   "{\"a\":1}}",
                                   "[1]]",
                                   "[[1]",
                                   "\"\\u12G4\"",
                                   "\"\\u123\"",
                                   "[[[[",
                                   "{\"a\":{\"b\":{}}}",
                                   "[{}, {\"x\": []}, [[]]]",
                                   "\t\r\n 42 \t\r\n",
                                   "1 2",
                                   "[,1]",
                                   "{,}",
                                   std::string(3000, '[') + std::string(3000, ']'),
                                   std::string(3000, '[') + "1",
                                   std::string(200, '[') + "{\"k\":" + std::string(200, '[') +
                                       std::string(200, ']') + "}" + std::string(200, ']')};
  std::vector<std::string> seeds = docs;
  std::mt19937 rng(20240501);
  const std::string alphabet = "{}[],:\" \\-+.eE0123456789tfnulr\xc3\xa9\x80\xff\x01u";
  for (int i = 0; i < 3000; ++i) {
    std::string doc = seeds[rng() % seeds.size()];
    for (int m = 1 + rng() % 3; m > 0 && doc.size() < 200; --m) {
      size_t at = doc.empty() ? 0 : rng() % doc.size();
      char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          if (!doc.empty()) doc[at] = c;
          break;
        case 1:
          if (!doc.empty()) doc.erase(at, 1);
          break;
        default:
          doc.insert(at, 1, c);
      }
    }
    docs.push_back(doc);
  }
  std::vector<Record> records;
  for (size_t i = 0; i < docs.size(); ++i) {
    if (docs[i].empty()) continue;
    records.push_back(MakeRecord("s", i, i, "T", docs[i]));
  }
  std::vector<std::string> lines = absl::StrSplit(WriteAll(records), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), records.size());
  int embedded = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& doc = records[i].data;
    nlohmann::json line = nlohmann::json::parse(lines[i]);
    // nlohmann takes a NUL byte for the end of the input; JSON text never holds a raw NUL.
    bool valid = doc.find('\0') == std::string::npos && nlohmann::json::accept(doc);
    if (valid) {
      ++embedded;
      EXPECT_EQ(line["data"], nlohmann::json::parse(doc)) << "valid JSON not embedded: " << doc;
    } else {
      EXPECT_EQ(line["data"], Base64(doc)) << "invalid JSON embedded: " << doc;
    }
  }
  EXPECT_GT(embedded, 300);  // the mutations must not have left only invalid documents
}

TEST_F(FileSinkTest, MetadataIsEmbeddedWhenJsonElseBase64) {
  Record json_meta = MakeRecord("s", 0, 1, "T", "x");
  json_meta.content_type = "application/octet-stream";
  json_meta.metadata = "{\"$correlationId\":\"abc\"}";
  Record text_meta = MakeRecord("s", 1, 2);
  text_meta.metadata = "plain";
  std::vector<std::string> lines =
      absl::StrSplit(WriteAll({json_meta, text_meta}), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["metadata"]["$correlationId"], "abc");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["metadata"], "cGxhaW4=");
}

TEST_F(FileSinkTest, TextFieldsAreEscapedAndBadUtf8Replaced) {
  std::string stream = "we\"ird\\name\t\x01 \xc3\xa9 \xf0\x9f\x98\x80";
  Record r = MakeRecord(stream, 0, 1, "T\xff\xc3", "{}");
  std::string line = Line(r);
  ASSERT_EQ(line.find('\n'), line.size() - 1);
  nlohmann::json j = nlohmann::json::parse(line);  // throws on invalid UTF-8 or bad escapes
  EXPECT_EQ(j["stream"], stream);
  EXPECT_EQ(j["eventType"], "T\xef\xbf\xbd\xef\xbf\xbd");
}

TEST_F(FileSinkTest, CreatedIsIsoUtcWithMicroseconds) {
  std::vector<Record> records(4, MakeRecord("s", 0, 1));
  records[0].created_unix_us = 0;
  records[1].created_unix_us = -1;
  records[2].created_unix_us = 951782400123456;  // 2000-02-29 (leap day)
  records[3].created_unix_us = 253402300799999999;
  std::vector<std::string> lines = absl::StrSplit(WriteAll(records), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["created"], "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["created"], "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(nlohmann::json::parse(lines[2])["created"], "2000-02-29T00:00:00.123456Z");
  EXPECT_EQ(nlohmann::json::parse(lines[3])["created"], "9999-12-31T23:59:59.999999Z");
}

TEST_F(FileSinkTest, CreatedAtTheEndsOfInt64StillMakesAJsonLine) {
  std::vector<Record> records(2, MakeRecord("s", 0, 1));
  records[0].created_unix_us = std::numeric_limits<int64_t>::min();  // overflowed while rounding
  records[1].created_unix_us = std::numeric_limits<int64_t>::max();
  std::vector<std::string> lines = absl::StrSplit(WriteAll(records), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  for (const std::string& line : lines) {
    EXPECT_TRUE(nlohmann::json::parse(line)["created"].is_string()) << line;
  }
}

TEST_F(FileSinkTest, CreatesTheFileAndAppendsAcrossOpens) {
  struct stat st;
  ASSERT_NE(stat(path_.c_str(), &st), 0);
  std::vector<Record> first;
  for (int i = 0; i < 500; ++i) first.push_back(MakeRecord("s", i, 100 + i));
  WriteAll(first);
  std::vector<Record> second = {MakeRecord("s", 500, 600)};
  std::vector<std::string> lines = absl::StrSplit(WriteAll(second), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 501u);
  for (size_t i = 0; i < lines.size(); ++i) {
    nlohmann::json j = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(j["revision"], i);
    EXPECT_EQ(j["position"], i == 500 ? 600 : 100 + i);
  }
}

TEST_F(FileSinkTest, FsyncAfterEachBatchByDefault) {
  std::unique_ptr<Sink> sink = Open();
  ASSERT_NE(sink, nullptr);
  EXPECT_THAT(log_.Messages(), Contains(HasSubstr("(fsync after each batch)")));
  int64_t before = testing::FdatasyncCalls();
  std::vector<Record> batch = {MakeRecord("s", 0, 1), MakeRecord("s", 1, 2)};
  for (int i = 0; i < 3; ++i) ASSERT_EQ(sink->Write(batch).outcome, SinkOutcome::kOk);
  EXPECT_EQ(testing::FdatasyncCalls() - before, 3);
}

TEST_F(FileSinkTest, FsyncFalseSyncsOnlyOnFlush) {
  std::unique_ptr<Sink> sink = Open({{"fsync", "false"}});
  ASSERT_NE(sink, nullptr);
  EXPECT_THAT(log_.Messages(), Contains(HasSubstr("(fsync off)")));
  int64_t before = testing::FdatasyncCalls();
  std::vector<Record> batch = {MakeRecord("s", 0, 1)};
  for (int i = 0; i < 3; ++i) ASSERT_EQ(sink->Write(batch).outcome, SinkOutcome::kOk);
  EXPECT_EQ(testing::FdatasyncCalls() - before, 0);
  EXPECT_TRUE(sink->Flush().ok());
  EXPECT_EQ(testing::FdatasyncCalls() - before, 1);
}

TEST_F(FileSinkTest, PartialLastLineFromACrashIsRemovedOnOpen) {
  testing::WriteFile(path_, Header("conn-file") + "{\"complete\":1}\n{\"position\":17,\"str");
  std::unique_ptr<Sink> sink = Open();
  ASSERT_NE(sink, nullptr);
  EXPECT_THAT(log_.Messages(), Contains(HasSubstr("removed 19 bytes of a partial last line")));
  std::vector<Record> batch = {MakeRecord("s", 0, 17)};
  ASSERT_EQ(sink->Write(batch).outcome, SinkOutcome::kOk);
  std::vector<std::string> lines = absl::StrSplit(ReadFile(path_), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0] + "\n", Header("conn-file"));
  EXPECT_EQ(lines[1], "{\"complete\":1}");
  EXPECT_EQ(nlohmann::json::parse(lines[2])["position"], 17);
}

// Recovery cuts back to the header at most, never into it.
TEST_F(FileSinkTest, PartialLineRightAfterTheHeaderIsAllThatGoes) {
  testing::WriteFile(path_, Header("conn-file") + "{\"position\":1");
  std::unique_ptr<Sink> sink = Open();
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(ReadFile(path_), Header("conn-file"));
}

TEST_F(FileSinkTest, NewFileStartsWithAHeaderLineNamingTheConnector) {
  std::unique_ptr<Sink> sink =
      plugin_->Open({"orders.to-file_2"}, {{"path", path_}}, log_.Fn()).value_or(nullptr);
  ASSERT_NE(sink, nullptr);
  EXPECT_THAT(log_.Messages(), Contains(HasSubstr("file-sink: created '" + path_ + "'")));
  std::string content = ReadFile(path_);
  EXPECT_EQ(content, Header("orders.to-file_2"));
  // A JSON line of its own that readers recognise by its only key.
  nlohmann::json header = nlohmann::json::parse(content);
  EXPECT_EQ(header, nlohmann::json::parse(
                        R"({"esdbFileSink":{"version":1,"connectorId":"orders.to-file_2"}})"));
  // Nothing but the file itself is left in the folder.
  size_t entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    ++entries;
    EXPECT_EQ(entry.path().string(), path_);
  }
  EXPECT_EQ(entries, 1u);
}

// The reported damage: a copy of an SQLite database lost its tail when named as the path. A file
// the sink did not write is refused and left exactly as it was, whatever it holds.
TEST_F(FileSinkTest, RefusesAFileItDidNotWriteAndLeavesItUntouched) {
  std::string sqlite("SQLite format 3\0\x10\x00\x01\x01", 20);
  for (int i = 0; i < 5000; ++i) sqlite.push_back(static_cast<char>(i * 7));
  sqlite += "no newline at the end";
  const std::vector<std::string> foreign = {
      sqlite,
      "",                                     // empty: created by someone else
      "{\"position\":1,\"stream\":\"s\"}\n",  // JSON Lines without a header
      R"({"esdbFileSink":{"version":1,"connectorId":"conn-file"}})",  // header without its '\n'
      "root:x:0:0:root:/root:/bin/bash\n",
  };
  for (const std::string& content : foreign) {
    testing::WriteFile(path_, content);
    absl::Status validated = plugin_->Validate({{"path", path_}});
    EXPECT_TRUE(validated.ok()) << validated;  // the file is judged at open, not validate
    auto sink = plugin_->Open({"conn-file"}, {{"path", path_}}, log_.Fn());
    ASSERT_FALSE(sink.ok()) << content.substr(0, 40);
    EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(sink.status().message(),
                HasSubstr("path: '" + path_ + "' exists and was not written by file-sink"));
    EXPECT_EQ(ReadFile(path_), content) << "a refused file was changed";
  }
}

TEST_F(FileSinkTest, RefusesAnotherConnectorsOutput) {
  WriteAll({MakeRecord("s", 0, 1)});
  const std::string before = ReadFile(path_);
  auto other = plugin_->Open({"other"}, {{"path", path_}}, log_.Fn());
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(other.status().message(),
              HasSubstr("is the output of connector 'conn-file', not of connector 'other'"));
  EXPECT_EQ(ReadFile(path_), before);
  // Its own connector carries on with it.
  EXPECT_NE(Open(), nullptr);
  // A header of another version is not taken for this one's either.
  const std::string future = R"({"esdbFileSink":{"version":2,"connectorId":"conn-file"}})"
                             "\n";
  testing::WriteFile(path_, future);
  auto newer = plugin_->Open({"conn-file"}, {{"path", path_}}, log_.Fn());
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(newer.status().message(), HasSubstr("starts with a file-sink header this version"));
  EXPECT_EQ(ReadFile(path_), future);
}

// A file is never visible at `path` before its header is complete. Here the header cannot be
// written at all (no byte fits under the size limit): the open fails and retries, and leaves no
// file behind that a later open would refuse, nor a temporary one.
TEST_F(FileSinkTest, FailedHeaderWriteLeavesNoFileBehind) {
  absl::StatusOr<std::unique_ptr<Sink>> failed = absl::UnknownError("not run");
  {
    FileSizeLimit limit(0);
    failed = plugin_->Open({"conn-file"}, {{"path", path_}}, log_.Fn());
  }
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
  EXPECT_THAT(failed.status().message(), HasSubstr("File too large"));
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));
  EXPECT_NE(Open(), nullptr);
  EXPECT_EQ(ReadFile(path_), Header("conn-file"));
}

TEST_F(FileSinkTest, RefusesDevicesAndPipes) {
  for (const std::string& device : {std::string("/dev/null"), std::string("/dev/full")}) {
    auto sink = plugin_->Open({"conn-file"}, {{"path", device}}, nullptr);
    EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument) << device;
    EXPECT_THAT(sink.status().message(), HasSubstr("is not a regular file")) << device;
  }
  // A FIFO with no reader: refused without blocking in open().
  const std::string fifo = dir_.File("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto sink = plugin_->Open({"conn-file"}, {{"path", fifo}}, nullptr);
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sink.status().message(), HasSubstr("is not a regular file"));
}

// A symbolic link to a foreign file is judged by the file it leads to.
TEST_F(FileSinkTest, SymbolicLinkToAForeignFileIsRefused) {
  const std::string target = dir_.File("precious.db");
  testing::WriteFile(target, "precious");
  ASSERT_EQ(symlink(target.c_str(), path_.c_str()), 0);
  auto sink = plugin_->Open({"conn-file"}, {{"path", path_}}, nullptr);
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadFile(target), "precious");
}

TEST_F(FileSinkTest, ControlCharactersInThePathAreRefused) {
  for (const std::string& path : {dir_.File("a\nb.jsonl"), dir_.File("tab\there"),
                                  dir_.File("del\x7f"), dir_.File("bell\a")}) {
    absl::Status validated = plugin_->Validate({{"path", path}});
    EXPECT_EQ(validated.code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_THAT(validated.message(), HasSubstr("path: contains a control character"));
    auto sink = plugin_->Open({"conn-file"}, {{"path", path}}, nullptr);
    EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument) << path;
    struct stat st;
    EXPECT_NE(stat(path.c_str(), &st), 0) << "created " << path;
  }
}

// The file appears complete with its header or not at all: a process killed at any moment while
// creating output files leaves nothing that the sink refuses afterwards (a stray temporary file
// at most). The child reports each file it finished over a pipe; the parent kills it after a few,
// at whatever point it has reached, over and over.
TEST_F(FileSinkTest, KilledWhileCreatingNeverLeavesAFileItRefuses) {
  const std::string plugin_path = PluginPath("file");
  for (int round = 0; round < 30; ++round) {
    int progress[2];
    ASSERT_EQ(pipe(progress), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(progress[0]);
      auto plugin = SinkPlugin::Load(plugin_path);
      if (!plugin.ok()) _exit(2);
      for (int i = 0;; ++i) {
        std::string name = "out-" + std::to_string(round) + "-" + std::to_string(i);
        auto sink =
            (*plugin)->Open({"crashy"}, {{"path", dir_.File(name)}, {"fsync", "false"}}, nullptr);
        if (!sink.ok()) _exit(3);
        sink->reset();
        if (::write(progress[1], "x", 1) != 1) _exit(4);
      }
    }
    ::close(progress[1]);
    char byte;
    int done = 0;
    while (done < 3 + round % 4 && ::read(progress[0], &byte, 1) == 1) ++done;
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ::close(progress[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child stopped by itself: " << status;
  }
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    std::string name = entry.path().filename().string();
    if (name.rfind("out-", 0) != 0) continue;
    ++files;
    EXPECT_EQ(ReadFile(entry.path().string()), Header("crashy")) << name;
    auto sink = plugin_->Open({"crashy"}, {{"path", entry.path().string()}}, nullptr);
    EXPECT_TRUE(sink.ok()) << name << ": " << sink.status();
  }
  EXPECT_GE(files, 30 * 3);
}

TEST_F(FileSinkTest, UnusablePathIsInvalidConfig) {
  auto missing_dir = plugin_->Open({"c"}, {{"path", dir_.File("no/such/dir.jsonl")}}, nullptr);
  EXPECT_EQ(missing_dir.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing_dir.status().message(),
              HasSubstr("path: cannot create '" + dir_.File("no/such/dir.jsonl") +
                        "': No such file or directory"));
  auto directory = plugin_->Open({"c"}, {{"path", dir_.path()}}, nullptr);
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(directory.status().message(), HasSubstr("is a directory"));
}

TEST_F(FileSinkTest, WriteErrorIsRetryWithTheErrnoText) {
  std::unique_ptr<Sink> sink = Open();
  ASSERT_NE(sink, nullptr);
  const std::string before = ReadFile(path_);
  std::vector<Record> batch = {MakeRecord("s", 0, 1)};
  SinkResult r;
  {
    FileSizeLimit limit(before.size());  // not one more byte fits
    r = sink->Write(batch);
  }
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry);
  EXPECT_THAT(r.message, HasSubstr("write to '" + path_ + "': File too large"));
  EXPECT_EQ(ReadFile(path_), before);
}

// A batch that fails half-way (here: the file size limit cuts the write short) is removed
// again, so the retry does not leave a torn line in the middle of the file.
TEST_F(FileSinkTest, FailedBatchLeavesNoPartialLines) {
  std::unique_ptr<Sink> sink = Open();
  ASSERT_NE(sink, nullptr);
  std::vector<Record> one = {MakeRecord("s", 0, 1)};
  ASSERT_EQ(sink->Write(one).outcome, SinkOutcome::kOk);
  std::string before = ReadFile(path_);

  std::vector<Record> many;
  for (int i = 1; i <= 20; ++i) many.push_back(MakeRecord("s", i, 1 + i));
  SinkResult failed;
  {
    FileSizeLimit limit(before.size() + 100);
    failed = sink->Write(many);
  }

  EXPECT_EQ(failed.outcome, SinkOutcome::kRetry);
  EXPECT_THAT(failed.message, HasSubstr("File too large"));
  EXPECT_EQ(ReadFile(path_), before);

  ASSERT_EQ(sink->Write(many).outcome, SinkOutcome::kOk);
  std::vector<std::string> lines = absl::StrSplit(ReadFile(path_), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 22u);  // the header, then 21 records
  for (const std::string& line : lines) EXPECT_NO_THROW(nlohmann::json::parse(line)) << line;
}

}  // namespace
}  // namespace esdb
