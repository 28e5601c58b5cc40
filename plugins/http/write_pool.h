// http-sink with several writes in flight (ESDB_SINK_PIPELINED_WRITES, batching:maxInFlight > 1):
// each write runs on a worker thread that owns one Connection, so that N writes outstanding go
// out on N connections at once while the host's write() returns at once.
//
// Workers start lazily: one more whenever a write is queued and every worker is busy, up to
// `max_workers` (the host's maxInFlight, which bounds the writes outstanding). A connector that
// keeps one write in flight at a time therefore uses one worker and one connection.
//
// Thread-safe. The destructor waits for the workers: it must run when no job is queued or
// running (the host closes an instance only with no completion outstanding), and never on a
// worker's thread (the host closes from its own threads, not from inside a completion).
#ifndef ESDB_PLUGINS_HTTP_WRITE_POOL_H_
#define ESDB_PLUGINS_HTTP_WRITE_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connection.h"
#include "http_config.h"

namespace esdb_http_sink {

class WritePool {
 public:
  // Runs on a worker's thread with that worker's connection. Must not throw.
  using Job = std::function<void(Connection&)>;

  // `config` must outlive the pool. `first` (already Init()ed) becomes the first worker's
  // connection, so that the connection open() prepared is the one used.
  WritePool(const HttpConfig& config, size_t max_workers, std::unique_ptr<Connection> first);
  ~WritePool();
  WritePool(const WritePool&) = delete;
  WritePool& operator=(const WritePool&) = delete;

  // Queues `job`, starting a worker when every one is busy and there is room for another.
  // Returns "" once the job is queued, or why it is not (a new connection's TLS setup failed);
  // the job then never runs. Throws only std::bad_alloc or std::system_error (no thread), with
  // the job not queued.
  std::string Run(Job job);

  // Workers started so far (for tests and the log).
  size_t workers() const;

 private:
  struct Worker {
    std::unique_ptr<Connection> connection;
    std::thread thread;
  };

  // Starts one more worker. REQUIRES: mu_ held.
  std::string StartWorkerLocked();
  void Work(Connection& connection);

  const HttpConfig& config_;
  const size_t max_workers_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::unique_ptr<Connection> spare_;             // guarded by mu_: `first` until a worker takes it
  std::vector<std::unique_ptr<Worker>> workers_;  // guarded by mu_
  std::deque<Job> jobs_;                          // guarded by mu_
  size_t running_ = 0;                            // guarded by mu_: workers inside a job
  bool stopping_ = false;                         // guarded by mu_
};

}  // namespace esdb_http_sink

#endif  // ESDB_PLUGINS_HTTP_WRITE_POOL_H_
