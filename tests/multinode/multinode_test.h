// The fixture of the multi-node tests: a Cluster of real processes, file-sink connectors with
// known affinities, events appended through the node, and checks of where connectors run and
// what each host delivered.
#ifndef ESDB_TESTS_MULTINODE_MULTINODE_TEST_H_
#define ESDB_TESTS_MULTINODE_MULTINODE_TEST_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cluster.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sink_output.h"

namespace esdb::multinode {

// Every connector reads this stream only (a prefix filter), so the side-cars' own writes
// (heartbeats, checkpoints) never reach a sink.
inline constexpr char kEventStream[] = "mn-events";

class MultiNodeTest : public ::testing::Test {
 protected:
  void TearDown() override;

  // Starts the dev node and one side-car per role. Use under ASSERT_NO_FATAL_FAILURE.
  void StartCluster(const std::vector<std::string>& roles);
  // Creates and enables a file-sink connector through side-car `via`; `extra` settings are
  // added to (or replace) the defaults.
  void AddConnector(const std::string& id, const std::string& affinity, size_t via,
                    const nlohmann::json& extra = nlohmann::json::object());
  // Appends `count` events to kEventStream; their ids are remembered in appended_ids_.
  void Append(int count);

  // True when side-car `host` may run a connector of `affinity`: it is alive and its member has
  // the role of the first tier with a live host (leader; follower, else leader; readOnlyReplica,
  // else follower, else leader).
  bool Eligible(const std::string& affinity, size_t host) const;

  // Waits until every connector runs on exactly one live side-car, an eligible one, and every
  // live side-car's view says RUNNING on that host. The host of each connector, or nullopt (after
  // a test failure naming the last discrepancy) when that does not happen within `timeout`.
  // Connectors named in `expected` must also have settled on the host given there.
  std::optional<std::map<std::string, size_t>> WaitForPlacement(
      absl::Duration timeout, const std::map<std::string, size_t>& expected = {});

  // The complete lines side-car `host` wrote for connector `id` (none when it never ran it).
  std::vector<e2e::OutputLine> Output(size_t host, const std::string& id);
  // Waits until the outputs of `id`, over every host, hold every appended event.
  bool WaitForDelivery(const std::string& id, absl::Duration timeout);
  // Fails the test unless `lines` are in strictly increasing log order.
  static void ExpectIncreasing(const std::vector<e2e::OutputLine>& lines, const std::string& what);

  // GET /connectors?host=<host id> through side-car `via`: the ids listed.
  std::set<std::string> ListedOnHost(size_t via, const std::string& host_id);

  std::unique_ptr<Cluster> cluster_;
  std::filesystem::path dir_;
  std::map<std::string, std::string> affinity_;  // every connector added, by id
  std::set<size_t> dead_;                        // side-cars killed by the test
  std::vector<std::string> appended_ids_;
  uint64_t last_position_ = 0;  // of the last event appended
  uint32_t next_event_ = 0;
};

}  // namespace esdb::multinode

#endif  // ESDB_TESTS_MULTINODE_MULTINODE_TEST_H_
