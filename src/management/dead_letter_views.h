// GET /connectors/{id}/dead-letters: its page (skip, take) and the JSON of one dead letter.
#ifndef ESDB_MANAGEMENT_DEAD_LETTER_VIEWS_H_
#define ESDB_MANAGEMENT_DEAD_LETTER_VIEWS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "delivery/dead_letters.h"
#include "nlohmann/json.hpp"

namespace esdb {

struct DeadLetterPage {
  int64_t skip = 0;
  int64_t take = 100;  // 1..1000
};

// `skip` (0..) and `take` (1..1000), each at most once. InvalidArgument naming the parameter for
// anything else.
absl::StatusOr<DeadLetterPage> DeadLetterPageFromUrl(absl::string_view query);

// One dead letter: where it was in the log, the record itself (data and metadata as JSON when
// they are JSON, else base64 in dataBase64 / metadataBase64), and why it was set aside.
nlohmann::json DeadLetterView(const DeadLetter& d);

}  // namespace esdb

#endif  // ESDB_MANAGEMENT_DEAD_LETTER_VIEWS_H_
