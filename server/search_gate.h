// The server's search slots: see SearchGate.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace medsearch::server {

// At most `slots` searches at once, admitted in arrival order (a ticket each): a search that
// arrives while all slots are busy waits for the ones ahead of it. Under load this keeps the
// tail short: with 8 connections on 2 cores, time-slicing made every search take 4 times its
// own time; in order, a search waits for the few ahead of it and then runs at full speed.
//
// One slot more than cores by default (ServerOptions::search_slots = 0): measured at 100k
// passages, wrk -t2 -c8 on 2 cores, p99 140 ms ungated, 104 ms with 2 slots (but 6% fewer
// searches/s: a core idles while a finished search hands its slot on), 104-108 ms with 3 and
// the ungated throughput.
class SearchGate {
 public:
  explicit SearchGate(std::size_t slots) : slots_(std::max<std::size_t>(slots, 1)) {}

  // Holds a slot from construction (after waiting its turn) to destruction.
  class Pass {
   public:
    explicit Pass(SearchGate& gate) : gate_(gate) { gate_.enter(); }
    ~Pass() { gate_.leave(); }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;

   private:
    SearchGate& gate_;
  };

  std::size_t slots() const { return slots_; }
  std::size_t running() const { return running_.load(); }
  std::size_t waiting() const { return waiting_.load(); }

 private:
  void enter() {
    std::unique_lock lock(mutex_);
    const std::uint64_t ticket = next_ticket_++;
    ++waiting_;
    changed_.wait(lock, [&] { return ticket == admitted_ && running_ < slots_; });
    --waiting_;
    ++admitted_;
    ++running_;
    lock.unlock();
    changed_.notify_all();  // the next ticket may fit in another free slot
  }
  void leave() {
    {
      std::lock_guard lock(mutex_);
      --running_;
    }
    changed_.notify_all();
  }

  const std::size_t slots_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t next_ticket_ = 0;  // tickets handed out
  std::uint64_t admitted_ = 0;     // tickets that got a slot: the next to admit is this one
  std::atomic<std::size_t> running_{0};
  std::atomic<std::size_t> waiting_{0};
};

}  // namespace medsearch::server
