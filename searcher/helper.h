// A second thread for a Searcher, with a handle of its own on the same local shards, for work
// that can run beside a search's own path: the facet count (searcher.cc). Xapian's handles are
// not thread-safe, so the helper never touches the Searcher's; it opens the shards itself and
// is brought to the revision the Searcher reads before each use (sync), or not used.
//
// What it buys is time, not work: the same work moves to the machine's other core while the
// search goes on (on SciFact's index the facets are about a third of a search with them). A
// server saturated with searches gains nothing and loses about 2% to the thread switches,
// within the spread of its rounds (docs/PERFORMANCE.md).
#pragma once

#include <xapian.h>

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace medsearch::searcher {

class HelperThread {
 public:
  // `shard_paths`: each local shard's database folder, in the Searcher's shard order. Opens
  // nothing yet; starts the thread.
  explicit HelperThread(std::vector<std::string> shard_paths);
  ~HelperThread();
  HelperThread(const HelperThread&) = delete;
  HelperThread& operator=(const HelperThread&) = delete;

  // Brings the helper's handle to what the Searcher reads: the database whose UUID is `uuid`,
  // each shard at `revisions[i]` (in shard order). Opens the shards on first use or when they
  // are other databases now (a replica switched to a fresh copy), reopens them when behind.
  // False when they cannot be brought there (a commit landed in between; a shard gone): the
  // caller then does the work itself. Call only while no task runs.
  bool sync(const std::string& uuid, const std::vector<Xapian::rev>& revisions);

  // Runs task(db, shards) on the thread: `db` is the helper's handle on the whole index (synced),
  // `shards` each shard's own handle, in order. The previous task must have been waited for.
  // Whatever the task refers to must outlive wait().
  using Task = std::function<void(const Xapian::Database&, const std::vector<Xapian::Database>&)>;
  void start(Task task);
  // Waits for the task started last, if any; rethrows what it threw. Safe to call twice.
  void wait();

 private:
  void loop();
  bool open();
  void close();

  std::vector<std::string> paths_;
  std::vector<Xapian::Database> shards_;  // each shares its handle with db_: reopening db_ reopens it
  Xapian::Database db_;

  std::mutex mutex_;
  std::condition_variable cv_;
  Task task_;
  bool has_task_ = false;
  bool done_ = true;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

// Waits for a helper's task when it goes out of scope (exceptions swallowed: the way out is
// already an error), so a task never outlives the locals it uses; wait() waits earlier and
// rethrows.
class HelperWait {
 public:
  HelperWait() = default;
  ~HelperWait() {
    if (helper_ == nullptr) return;
    try {
      helper_->wait();
    } catch (...) {
    }
  }
  HelperWait(const HelperWait&) = delete;
  HelperWait& operator=(const HelperWait&) = delete;
  bool active() const { return helper_ != nullptr; }
  // Waits now, rethrowing the task's exception.
  void wait() {
    HelperThread* h = helper_;
    helper_ = nullptr;
    if (h != nullptr) h->wait();
  }
  void set(HelperThread* helper) { helper_ = helper; }

 private:
  HelperThread* helper_ = nullptr;
};

}  // namespace medsearch::searcher
