// A second thread with its own handle on a Searcher's local shards (helper.h).
#include "searcher/helper.h"

#include <utility>

namespace medsearch::searcher {

HelperThread::HelperThread(std::vector<std::string> shard_paths)
    : paths_(std::move(shard_paths)), thread_([this] { loop(); }) {}

HelperThread::~HelperThread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void HelperThread::close() {
  shards_.clear();
  db_ = Xapian::Database();
}

bool HelperThread::open() {
  close();
  try {
    for (const auto& path : paths_) {
      shards_.emplace_back(path);
      db_.add_database(shards_.back());
    }
    return true;
  } catch (const Xapian::Error&) {
    close();
    return false;
  }
}

bool HelperThread::sync(const std::string& uuid, const std::vector<Xapian::rev>& revisions) {
  if (uuid.empty() || revisions.size() != paths_.size()) return false;
  auto at_revisions = [&] {
    for (std::size_t i = 0; i < shards_.size(); ++i)
      if (shards_[i].get_revision() != revisions[i]) return false;
    return true;
  };
  try {
    if (shards_.size() != paths_.size() || db_.get_uuid() != uuid) {
      if (!open() || db_.get_uuid() != uuid) return false;
    }
    if (at_revisions()) return true;
    db_.reopen();  // behind (or ahead: then it stays ahead, and the caller works alone)
    return at_revisions();
  } catch (const Xapian::Error&) {
    close();  // a shard closed or replaced under us: open afresh next time
    return false;
  }
}

void HelperThread::start(Task task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = std::move(task);
    has_task_ = true;
    done_ = false;
    error_ = nullptr;
  }
  cv_.notify_all();
}

void HelperThread::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [this] { return done_; });
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void HelperThread::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || has_task_; });
    if (stop_) return;
    Task task = std::move(task_);
    has_task_ = false;
    lock.unlock();
    std::exception_ptr error;
    try {
      task(db_, shards_);
    } catch (...) {
      error = std::current_exception();
    }
    task = nullptr;  // what the task captured goes here, before its owner hears it is done
    lock.lock();
    error_ = error;
    done_ = true;
    cv_.notify_all();
  }
}

}  // namespace medsearch::searcher
