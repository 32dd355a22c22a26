// The shards a Searcher reads as one database: local databases, remote shards served by
// Xapian's own xapian-tcpsrv (tcp://host:port) or xapian-progsrv (a Xapian stub's
// "remote :PROGRAM ARGS" line), or stub files listing either. Opens each shard on its own so
// that a shard that is down or slow can be named, left out (partial answers) and reconnected.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <xapian.h>

#include "corpus/result.h"

namespace medsearch::searcher {

// What the shard sets of one process know of each shard's health, by shard name: a shard
// found down by one set is not tried by the others before its back-off has passed. A server
// has one ShardSet per worker thread; without this each worker waited out a hung shard's
// timeouts on its own, and with 8 workers each worker's back-off had run out before it was
// asked again, so every request paid the timeout. Thread-safe.
class ShardHealth {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Entry {
    unsigned failures = 0;  // failed attempts in a row; 0 = up as far as anyone knows
    TimePoint retry_at{};   // no new attempt before this (when failures > 0)
    std::string error;      // why the last attempt failed
    std::uint64_t downs = 0;  // failures ever recorded: a connection made before the last one is stale
    TimePoint attempt_until{};  // one set is connecting: the others wait for its outcome until then
  };
  Entry get(const std::string& name) const;
  // True when a set may try to connect now (the shard is up, or its back-off has passed and no
  // other set is trying); the caller then owns the attempt until `attempt_until`.
  bool claim(const std::string& name, TimePoint now, TimePoint attempt_until);
  // A failed attempt: the back-off grows (retry_initial_ms, doubling, up to retry_max_ms). A
  // failure reported while the back-off of an earlier one still runs (two sets that found it
  // down at once) does not grow it again.
  Entry failed(const std::string& name, const std::string& error, TimePoint now, int retry_initial_ms, int retry_max_ms);
  // A successful connection: the back-off is reset. Returns `downs` for the caller to keep.
  std::uint64_t succeeded(const std::string& name);

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

struct ShardOptions {
  // Remote shards: longest wait for one network operation, and for a connection. A shard
  // that takes longer is treated as down for that request.
  int timeout_ms = 5000;
  int connect_timeout_ms = 2000;
  // When a shard is down: false = the request fails (unavailable, naming the shard); true =
  // the shards that answer are searched and the response says which ones are missing.
  bool partial = false;
  // A local database holding the spelling and synonym tables (and metadata) of the whole
  // index, for indexes with remote shards: Xapian 1.4's remote backend serves neither, so
  // without it searches over remote shards have no synonym expansion and no "did you mean"
  // (medsearch-index --export-lexicon writes one). Empty = use the shards themselves.
  std::string lexicon;
  // A shard found down is not tried again before a back-off has passed: retry_initial_ms
  // after the first failure, doubling with each failure in a row up to retry_max_ms. Until
  // then requests fail at once (or answer without it) instead of each waiting out the
  // connect timeout. 0 = try again at every request.
  int retry_initial_ms = 1000;
  int retry_max_ms = 30000;
  // The clock the back-off reads (tests inject one); empty = std::chrono::steady_clock.
  std::function<std::chrono::steady_clock::time_point()> clock;
  // Shared by every ShardSet opened with these options (copies share it): the back-off, and
  // shards found down, are the same for all of them. Empty = each ShardSet keeps its own.
  std::shared_ptr<ShardHealth> health;
};

// One shard as named by the user: `name` is what errors and `missing_shards` show.
struct ShardSpec {
  enum class Kind { local, tcp, prog };
  Kind kind = Kind::local;
  std::string name;  // "tcp://127.0.0.1:7001", a path, or "prog://xapian-progsrv ..." for prog
  std::string path;  // local: the database folder; prog: the program
  std::string host;  // tcp
  unsigned port = 0; // tcp
  std::string args;  // prog: its arguments
};

// Expands a list of shard names into shards, in order:
//   tcp://HOST:PORT (HOST may be [IPv6])  a remote shard served by xapian-tcpsrv;
//   a folder holding a Xapian stub file XAPIANDB (a sharded medsearch index), or a stub file:
//     each line is expanded: "auto|glass|chert PATH" (relative to the stub's folder),
//     "remote HOST:PORT" (tcp) and "remote :PROGRAM ARGS" (prog), as Xapian's stub syntax;
//   any other folder: one local database.
// Errors: invalid_argument (param "db") for an empty list, a malformed tcp:// name or stub
// line, or a name that is neither a folder nor a file.
corpus::Result<std::vector<ShardSpec>> expand_shards(const std::vector<std::string>& names);

// "shard A is unavailable" for one name, "shards A, B are unavailable" for several: errors for
// shards that are down name every one of them, not the first only (an operator restarts them
// all at once). `names` is not empty.
std::string shards_unavailable(const std::vector<std::string>& names);

// The shards, each opened on its own, and their union as one Xapian::Database. Not
// thread-safe: one per Searcher, as the Database it holds.
class ShardSet {
 public:
  // Opens every shard. A shard that cannot be opened fails the whole open (unavailable,
  // naming the shard, param "shard") unless options.partial, where it is listed as missing
  // (and at least one shard must open).
  // `names` as expand_shards() takes them; they are expanded again at each refresh(), so a
  // stub that now names other databases (xapian-replicate switching a replica to a fresh full
  // copy) is followed.
  static corpus::Result<ShardSet> open(const std::vector<std::string>& names, const ShardOptions& options);
  static corpus::Result<ShardSet> open(std::vector<ShardSpec> specs, const ShardOptions& options);

  // The shards that are up, as one database (Xapian's docids interleave them in shard order).
  const Xapian::Database& db() const { return db_; }
  // Names of the shards left out because they did not answer (only when options.partial).
  const std::vector<std::string>& missing() const { return missing_; }
  bool any_remote() const { return any_remote_; }
  // The sum of state()'s revisions (local shards that are up; Xapian 1.4's remote backend
  // reports none): it rises with every commit to a local shard.
  Xapian::rev revision() const;
  // What the database is now, to tell whether a refresh() changed it: each shard's revision in
  // shard order (0 for one that is down or remote) and how many times the union was rebuilt
  // (shards reopened, reconnected, left out or back). Equal states read the same data.
  struct State {
    std::vector<Xapian::rev> revisions;
    std::uint64_t rebuilds = 0;
    bool operator==(const State&) const = default;
  };
  State state() const;
  const ShardOptions& options() const { return options_; }

  // Before a request: the names are expanded again and, when a stub now lists other
  // databases, every shard is opened afresh (Xapian's replication replaces a replica's
  // database by a new one on a full copy, and an open handle would keep reading the old one);
  // otherwise each shard that is up picks up its latest revision; a remote shard whose
  // connection broke (tcpsrv's idle timeout closes idle ones) is reconnected; shards that were
  // down are tried again once their back-off has passed (ShardOptions::retry_initial_ms), so
  // a shard that returns is used without restarting anything.
  // Fails (unavailable, naming the shard) when a shard is down and partial answers are off,
  // or when no shard is up. DatabaseModifiedError and other trouble of a local shard are
  // errors too (corrupt/unavailable), as for a single database.
  corpus::Status refresh();

  // After a network error in the middle of a request: finds which shards no longer answer
  // (a keep-alive round trip each), reconnects those it can and leaves the rest out. Returns
  // an error (unavailable, naming the shard) when one is down and partial answers are off,
  // or when none is up; success when the request may be retried on db().
  corpus::Status recover();

 private:
  struct Shard {
    ShardSpec spec;
    Xapian::Database db;
    bool up = false;
    std::string error;  // why it is down
    std::uint64_t downs_seen = 0;  // ShardHealth's `downs` when this connection was made
    bool backed_off = false;  // down because not tried: in its back-off
  };
  ShardSet() = default;
  // A fresh open; false with shard.error set and the next attempt pushed back. A shard in
  // its back-off (found down here or by another set sharing the health) is not tried.
  bool connect(Shard& shard) const;
  // Whether a shard that is down may be tried now (its back-off has passed).
  bool may_retry(const Shard& shard) const;
  void mark_down(Shard& shard, const std::string& error) const;
  // Why each shard that is down is down, "A: why; B: why" (one alone: "why"), with when it is
  // tried again for those in their back-off when `next_attempt` (for all) or for those only
  // that were not even tried (backed_off).
  std::string down_reasons(bool next_attempt) const;
  std::chrono::steady_clock::time_point now() const;
  corpus::Status rebuild();

  std::vector<Shard> shards_;
  std::vector<std::string> names_;  // as given, when opened by name
  ShardOptions options_;
  std::shared_ptr<ShardHealth> health_;  // options_.health, or one of our own
  Xapian::Database db_;
  std::vector<std::string> missing_;
  bool any_remote_ = false;
  std::uint64_t rebuilds_ = 0;
};

}  // namespace medsearch::searcher
