// file-sink: the text of one output line. Pure formatting, no I/O.
#ifndef ESDB_PLUGINS_FILE_JSON_LINE_H_
#define ESDB_PLUGINS_FILE_JSON_LINE_H_

#include <string>
#include <string_view>

#include "esdb/sink.h"

namespace esdb_file_sink {

// Appends `record` to `out` as one JSON object followed by '\n':
//   {"position":<commit position>,"stream":"..","revision":<n>,"eventId":"..","eventType":"..",
//    "contentType":"..","data":<..>,"metadata":<..>,"created":"YYYY-MM-DDTHH:MM:SS.ffffffZ"}
// data is embedded as JSON when the content type is application/json and the bytes are valid
// JSON, otherwise it is base64 text. metadata is embedded when it is valid JSON, is null when
// empty, and is base64 text otherwise. Text fields that are not valid UTF-8 get U+FFFD for each
// bad byte. The output never contains a raw newline except the final one.
// May throw std::bad_alloc (and only that).
void AppendJsonLine(const esdb_sink_record& record, std::string& out);

// Appends `text` as a quoted JSON string: quotes, backslashes and control characters escaped,
// each byte that is not part of well-formed UTF-8 replaced by U+FFFD.
void AppendJsonString(std::string_view text, std::string& out);

// Appends `data` as standard base64 (with padding, no quotes).
void AppendBase64Text(const uint8_t* data, size_t size, std::string& out);

}  // namespace esdb_file_sink

#endif  // ESDB_PLUGINS_FILE_JSON_LINE_H_
