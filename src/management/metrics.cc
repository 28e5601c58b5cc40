// ManagementApi::RenderMetrics: Prometheus text exposition format 0.0.4.
#include "absl/strings/str_cat.h"
#include "management/api.h"

namespace esdb {
namespace {

void Family(std::string& out, const char* name, const char* type, const char* help) {
  absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

// Label values are connector ids, which may only hold [A-Za-z0-9._-]: no escaping needed.
std::string Label(const std::string& id) { return absl::StrCat("{connector=\"", id, "\"}"); }

}  // namespace

std::string ManagementApi::RenderMetrics() const {
  std::string out;
  auto metrics = supervisor_ != nullptr ? supervisor_->Metrics()
                                        : std::map<std::string, std::shared_ptr<ConnectorMetrics>>{};
  auto end = node_->LastPosition();

  struct Counter {
    const char* name;
    const char* type;
    const char* help;
    std::atomic<uint64_t> ConnectorMetrics::*field;
  };
  static const Counter kCounters[] = {
      {"esdb_connector_records_delivered_total", "counter", "Records acknowledged by the sink.",
       &ConnectorMetrics::records_delivered},
      {"esdb_connector_batches_delivered_total", "counter", "Batches acknowledged by the sink.",
       &ConnectorMetrics::batches_delivered},
      {"esdb_connector_retries_total", "counter", "Sink writes answered with RETRY.",
       &ConnectorMetrics::retries},
      {"esdb_connector_failures_total", "counter", "Times the connector failed.",
       &ConnectorMetrics::failures},
      {"esdb_connector_checkpoints_total", "counter", "Checkpoints written.",
       &ConnectorMetrics::checkpoints},
      {"esdb_connector_dead_letters_total", "counter",
       "Records the sink refused for good, set aside in the dead-letter stream.",
       &ConnectorMetrics::dead_letters},
      {"esdb_connector_dead_letters_replayed_total", "counter", "Dead letters a replay delivered.",
       &ConnectorMetrics::dead_letters_replayed},
      {"esdb_connector_checkpoint_position", "gauge", "Commit position of the last checkpoint.",
       &ConnectorMetrics::checkpoint_position},
      {"esdb_connector_queued_bytes", "gauge",
       "Memory of the records read from the node and waiting for the sink.",
       &ConnectorMetrics::queued_bytes},
  };
  for (const Counter& c : kCounters) {
    Family(out, c.name, c.type, c.help);
    for (const auto& [id, m] : metrics) {
      absl::StrAppend(&out, c.name, Label(id), " ", ((*m).*(c.field)).load(), "\n");
    }
  }
  Family(out, "esdb_connector_lag", "gauge",
         "Log positions the connector still has to look at: 0 when caught up.");
  for (const auto& [id, m] : metrics) {
    uint64_t lag = end.ok() ? m->Lag(end->commit) : 0;
    absl::StrAppend(&out, "esdb_connector_lag", Label(id), " ", lag, "\n");
  }
  Family(out, "esdb_connector_running", "gauge", "1 when the connector runs on this host.");
  for (const auto& [id, m] : metrics) {
    absl::StrAppend(&out, "esdb_connector_running", Label(id), " ",
                    supervisor_->IsRunningHere(id) ? 1 : 0, "\n");
  }
  const char* h = "esdb_connector_write_latency_seconds";
  Family(out, h, "histogram", "Time from a sink write to its completion.");
  for (const auto& [id, m] : metrics) {
    uint64_t cumulative = 0;
    const auto& hist = m->write_latency;
    for (size_t i = 0; i <= LatencyHistogram::kBounds.size(); ++i) {
      cumulative += hist.Bucket(i);
      std::string le = i < LatencyHistogram::kBounds.size()
                           ? absl::StrCat(LatencyHistogram::kBounds[i])
                           : "+Inf";
      absl::StrAppend(&out, h, "_bucket{connector=\"", id, "\",le=\"", le, "\"} ", cumulative,
                      "\n");
    }
    absl::StrAppend(&out, h, "_sum", Label(id), " ", hist.SumSeconds(), "\n");
    absl::StrAppend(&out, h, "_count", Label(id), " ", cumulative, "\n");
  }
  return out;
}

}  // namespace esdb
