// file-sink (plugins/file) through the loader: the exact JSON Lines format, durability options,
// crash leftovers and error handling.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <random>
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

class FileSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_ = testing::LoadOrFail(PluginPath("file"));
    ASSERT_NE(plugin_, nullptr);
    path_ = dir_.File("out.jsonl");
  }

  std::unique_ptr<Sink> Open(SettingsMap settings = {}) {
    settings.emplace("path", path_);
    auto sink = plugin_->Open("conn-file", settings, log_.Fn());
    EXPECT_TRUE(sink.ok()) << sink.status();
    return sink.ok() ? *std::move(sink) : nullptr;
  }

  // Writes `records` through a fresh sink and returns the file's content.
  std::string WriteAll(const std::vector<Record>& records) {
    std::unique_ptr<Sink> sink = Open();
    if (sink == nullptr) return "";
    SinkResult r = sink->Write(records);
    EXPECT_EQ(r.outcome, SinkOutcome::kOk) << r.message;
    return ReadFile(path_);
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
  testing::WriteFile(path_, "{\"complete\":1}\n{\"position\":17,\"str");
  std::unique_ptr<Sink> sink = Open();
  ASSERT_NE(sink, nullptr);
  EXPECT_THAT(log_.Messages(), Contains(HasSubstr("removed 19 bytes of a partial last line")));
  std::vector<Record> batch = {MakeRecord("s", 0, 17)};
  ASSERT_EQ(sink->Write(batch).outcome, SinkOutcome::kOk);
  std::vector<std::string> lines = absl::StrSplit(ReadFile(path_), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"complete\":1}");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["position"], 17);
}

TEST_F(FileSinkTest, FileWithoutAnyNewlineIsAllPartial) {
  testing::WriteFile(path_, "{\"position\":1");
  std::unique_ptr<Sink> sink = Open();
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(ReadFile(path_), "");
}

TEST_F(FileSinkTest, UnusablePathIsInvalidConfig) {
  auto missing_dir = plugin_->Open("c", {{"path", dir_.File("no/such/dir.jsonl")}}, nullptr);
  EXPECT_EQ(missing_dir.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing_dir.status().message(),
              HasSubstr("path: cannot open '" + dir_.File("no/such/dir.jsonl") +
                        "': No such file or directory"));
  auto directory = plugin_->Open("c", {{"path", dir_.path()}}, nullptr);
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(directory.status().message(), HasSubstr("Is a directory"));
}

TEST_F(FileSinkTest, WriteErrorIsRetryWithTheErrnoText) {
  auto sink = plugin_->Open("c", {{"path", "/dev/full"}}, nullptr);
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::vector<Record> batch = {MakeRecord("s", 0, 1)};
  SinkResult r = (*sink)->Write(batch);
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry);
  EXPECT_THAT(r.message, HasSubstr("write to '/dev/full': No space left on device"));
}

// A batch that fails half-way (here: the file size limit cuts the write short) is removed
// again, so the retry does not leave a torn line in the middle of the file.
TEST_F(FileSinkTest, FailedBatchLeavesNoPartialLines) {
  std::unique_ptr<Sink> sink = Open();
  ASSERT_NE(sink, nullptr);
  std::vector<Record> one = {MakeRecord("s", 0, 1)};
  ASSERT_EQ(sink->Write(one).outcome, SinkOutcome::kOk);
  std::string before = ReadFile(path_);

  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct sigaction ignore = {}, old_action;
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &old_action), 0);
  struct rlimit limited = saved;
  limited.rlim_cur = before.size() + 100;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);

  std::vector<Record> many;
  for (int i = 1; i <= 20; ++i) many.push_back(MakeRecord("s", i, 1 + i));
  SinkResult failed = sink->Write(many);

  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &saved), 0);
  ASSERT_EQ(sigaction(SIGXFSZ, &old_action, nullptr), 0);

  EXPECT_EQ(failed.outcome, SinkOutcome::kRetry);
  EXPECT_THAT(failed.message, HasSubstr("File too large"));
  EXPECT_EQ(ReadFile(path_), before);

  ASSERT_EQ(sink->Write(many).outcome, SinkOutcome::kOk);
  std::vector<std::string> lines = absl::StrSplit(ReadFile(path_), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 21u);
  for (const std::string& line : lines) EXPECT_NO_THROW(nlohmann::json::parse(line)) << line;
}

}  // namespace
}  // namespace esdb
