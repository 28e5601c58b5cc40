// kafka-sink: how deep a JSON text nests, found without parsing it. Pure, no allocation.
#ifndef ESDB_PLUGINS_KAFKA_JSON_DEPTH_H_
#define ESDB_PLUGINS_KAFKA_JSON_DEPTH_H_

#include <cstddef>
#include <string_view>

namespace esdb_kafka_sink {

// True when no '[' or '{' of `text` opens deeper than `max_depth` levels (a top-level object is
// level 1). Brackets inside strings do not count; escapes inside strings are honoured. One
// linear pass with a counter and no recursion, so it is safe on any input; a text that is not
// JSON gets an answer too, and parsing it is then left to decide what it is.
bool JsonNestingAtMost(std::string_view text, size_t max_depth);

}  // namespace esdb_kafka_sink

#endif  // ESDB_PLUGINS_KAFKA_JSON_DEPTH_H_
