#include "write_pool.h"

#include <utility>

namespace esdb_http_sink {

WritePool::WritePool(const HttpConfig& config, size_t max_workers,
                     std::unique_ptr<Connection> first)
    : config_(config), max_workers_(max_workers < 1 ? 1 : max_workers), spare_(std::move(first)) {}

WritePool::~WritePool() {
  std::vector<std::unique_ptr<Worker>> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    workers.swap(workers_);
  }
  wake_.notify_all();
  for (const std::unique_ptr<Worker>& w : workers) w->thread.join();
}

std::string WritePool::Run(Job job) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t idle = workers_.size() - running_;
  if (jobs_.size() + 1 > idle && workers_.size() < max_workers_) {
    if (std::string why = StartWorkerLocked(); !why.empty()) return why;
  }
  jobs_.push_back(std::move(job));
  wake_.notify_one();
  return "";
}

size_t WritePool::workers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return workers_.size();
}

std::string WritePool::StartWorkerLocked() {
  auto worker = std::make_unique<Worker>();
  if (spare_ != nullptr) {
    worker->connection = std::move(spare_);
  } else {
    worker->connection = std::make_unique<Connection>(config_);
    if (std::string why = worker->connection->Init(); !why.empty()) return why;
  }
  Connection* connection = worker->connection.get();
  try {
    worker->thread = std::thread([this, connection] { Work(*connection); });
  } catch (...) {
    if (workers_.empty()) spare_ = std::move(worker->connection);
    throw;
  }
  workers_.push_back(std::move(worker));
  return "";
}

void WritePool::Work(Connection& connection) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and nothing left to do
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    ++running_;
    lock.unlock();
    job(connection);
    job = nullptr;  // before the lock: what the job holds is released outside it
    lock.lock();
    --running_;
  }
}

}  // namespace esdb_http_sink
