// Shards opened one by one (local, xapian-tcpsrv, xapian-progsrv), joined into one database,
// with the health bookkeeping that partial answers and reconnection need.
#include "searcher/shards.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "corpus/xapian_error.h"

namespace medsearch::searcher {

using corpus::Error;
using corpus::ErrorCode;
using corpus::make_error;
using corpus::Status;

namespace {

constexpr const char* kStubName = "XAPIANDB";
constexpr int kMaxStubDepth = 8;  // stubs may list stubs; a loop must not hang us

Error bad_name(const std::string& message) { return make_error(ErrorCode::invalid_argument, message, "db"); }

// "HOST:PORT" or "[IPv6]:PORT" -> host, port; false when malformed.
bool parse_host_port(const std::string& text, std::string& host, unsigned& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= text.size()) return false;
  host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return false;  // an IPv6 address must be bracketed
  }
  unsigned long value = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned long>(c - '0');
    if (value > 65535) return false;
  }
  if (value == 0) return false;
  port = static_cast<unsigned>(value);
  return true;
}

ShardSpec tcp_spec(const std::string& host, unsigned port) {
  ShardSpec s;
  s.kind = ShardSpec::Kind::tcp;
  s.host = host;
  s.port = port;
  const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  s.name = "tcp://" + shown + ":" + std::to_string(port);
  return s;
}

corpus::Status expand_one(const std::string& name, int depth, std::vector<ShardSpec>& out);

// Xapian's stub syntax: "TYPE REST" per line, '#' comments and blank lines ignored.
corpus::Status expand_stub(const std::filesystem::path& stub, int depth, std::vector<ShardSpec>& out) {
  if (depth > kMaxStubDepth) return bad_name(stub.string() + ": stub files nested too deep (a loop?)");
  std::ifstream in(stub);
  if (!in) return make_error(ErrorCode::unavailable, stub.string() + ": cannot read the stub file", "db");
  const std::filesystem::path base = stub.parent_path();
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    line.erase(0, start);
    const auto space = line.find(' ');
    const std::string type = line.substr(0, space);
    const std::string rest = space == std::string::npos ? "" : line.substr(line.find_first_not_of(' ', space));
    const std::string where = stub.string() + ":" + std::to_string(number) + ": ";
    if (type != "auto" && type != "glass" && type != "chert" && type != "remote") {
      // Most often not a stub at all (a data file given as --db): say so, and show little of it.
      std::string shown = type.substr(0, 40);
      for (char& c : shown)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
      return bad_name(where + "not a Xapian stub file: unknown database type '" + shown + "' (auto, glass, chert or remote)");
    }
    if (rest.empty()) return bad_name(where + "'" + type + "' needs an argument");
    if (type == "auto" || type == "glass" || type == "chert") {
      std::filesystem::path path(rest);
      if (path.is_relative()) path = base / path;
      Status s = expand_one(path.string(), depth + 1, out);
      if (!s.ok()) return s;
    } else if (type == "remote" && rest[0] == ':') {
      ShardSpec s;
      s.kind = ShardSpec::Kind::prog;
      const auto args_at = rest.find(' ');
      s.path = rest.substr(1, args_at == std::string::npos ? std::string::npos : args_at - 1);
      s.args = args_at == std::string::npos ? "" : rest.substr(args_at + 1);
      s.name = "prog://" + rest.substr(1);
      out.push_back(std::move(s));
    } else if (type == "remote") {
      std::string host;
      unsigned port = 0;
      if (!parse_host_port(rest, host, port)) return bad_name(where + "expected 'remote HOST:PORT' or 'remote :PROGRAM ARGS'");
      out.push_back(tcp_spec(host, port));
    }
  }
  return Status::success();
}

corpus::Status expand_one(const std::string& name, int depth, std::vector<ShardSpec>& out) {
  if (name.rfind("tcp://", 0) == 0) {
    std::string host;
    unsigned port = 0;
    if (!parse_host_port(name.substr(6), host, port))
      return bad_name("shard '" + name + "': expected tcp://HOST:PORT with a port from 1 to 65535");
    out.push_back(tcp_spec(host, port));
    return Status::success();
  }
  std::error_code ec;
  const std::filesystem::path path(name);
  if (std::filesystem::is_directory(path, ec)) {
    if (std::filesystem::is_regular_file(path / kStubName, ec)) return expand_stub(path / kStubName, depth, out);
    ShardSpec s;
    s.kind = ShardSpec::Kind::local;
    s.name = name;
    s.path = name;
    out.push_back(std::move(s));
    return Status::success();
  }
  if (std::filesystem::is_regular_file(path, ec)) return expand_stub(path, depth, out);
  return make_error(ErrorCode::unavailable, "cannot open index " + name + ": no such folder, stub file or tcp:// shard", "db");
}

}  // namespace

corpus::Result<std::vector<ShardSpec>> expand_shards(const std::vector<std::string>& names) {
  if (names.empty()) return bad_name("no index given");
  std::vector<ShardSpec> out;
  for (const auto& name : names) {
    Status s = expand_one(name, 0, out);
    if (!s.ok()) return s.error();
  }
  if (out.empty()) return bad_name("the stub file lists no databases");
  return out;
}

ShardHealth::Entry ShardHealth::get(const std::string& name) const {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(name);
  return it == entries_.end() ? Entry{} : it->second;
}

bool ShardHealth::claim(const std::string& name, TimePoint now, TimePoint attempt_until) {
  std::lock_guard lock(mutex_);
  Entry& entry = entries_[name];
  if (entry.failures == 0) return true;  // up: every set connects on its own
  if (now < entry.retry_at || now < entry.attempt_until) return false;
  entry.attempt_until = attempt_until;
  return true;
}

ShardHealth::Entry ShardHealth::failed(const std::string& name, const std::string& error, TimePoint now,
                                       int retry_initial_ms, int retry_max_ms) {
  std::lock_guard lock(mutex_);
  Entry& entry = entries_[name];
  entry.error = error;
  entry.attempt_until = {};
  if (entry.failures > 0 && now < entry.retry_at) return entry;  // already counted by another set
  ++entry.downs;
  // Back off exponentially: retry_initial_ms, twice that, ... up to retry_max_ms.
  if (entry.failures < 64) ++entry.failures;
  std::int64_t delay = std::max(0, retry_initial_ms);
  for (unsigned i = 1; i < entry.failures && delay > 0 && delay < retry_max_ms; ++i) delay *= 2;
  delay = std::min<std::int64_t>(delay, std::max(retry_initial_ms, retry_max_ms));
  entry.retry_at = now + std::chrono::milliseconds(delay);
  return entry;
}

std::uint64_t ShardHealth::succeeded(const std::string& name) {
  std::lock_guard lock(mutex_);
  Entry& entry = entries_[name];
  entry.failures = 0;
  entry.error.clear();
  entry.attempt_until = {};
  return entry.downs;
}

std::chrono::steady_clock::time_point ShardSet::now() const {
  return options_.clock ? options_.clock() : std::chrono::steady_clock::now();
}

bool ShardSet::may_retry(const Shard& shard) const {
  const ShardHealth::Entry entry = health_->get(shard.spec.name);
  return entry.failures == 0 || (now() >= entry.retry_at && now() >= entry.attempt_until);
}

void ShardSet::mark_down(Shard& shard, const std::string& error) const {
  shard.db = Xapian::Database();
  shard.up = false;
  shard.error = error;
}

bool ShardSet::connect(Shard& shard) const {
  const std::string& name = shard.spec.name;
  // The longest an attempt can take: other sets sharing the health wait for its outcome
  // rather than each trying (and waiting) too.
  const auto budget = std::chrono::milliseconds(std::max(0, options_.connect_timeout_ms) + std::max(0, options_.timeout_ms));
  if (!health_->claim(name, now(), now() + budget)) {
    mark_down(shard, health_->get(name).error);
    shard.backed_off = true;
    return false;
  }
  shard.backed_off = false;
  try {
    switch (shard.spec.kind) {
      case ShardSpec::Kind::local: shard.db = Xapian::Database(shard.spec.path); break;
      case ShardSpec::Kind::tcp:
        shard.db = Xapian::Remote::open(shard.spec.host, shard.spec.port, static_cast<unsigned>(options_.timeout_ms),
                                        static_cast<unsigned>(options_.connect_timeout_ms));
        break;
      case ShardSpec::Kind::prog:
        shard.db = Xapian::Remote::open(shard.spec.path, shard.spec.args, static_cast<unsigned>(options_.timeout_ms));
        break;
    }
    shard.up = true;
    shard.error.clear();
    shard.downs_seen = health_->succeeded(name);
    return true;
  } catch (const Xapian::Error& e) {
    mark_down(shard, e.get_description());
    health_->failed(name, shard.error, now(), options_.retry_initial_ms, options_.retry_max_ms);
    return false;
  }
}

Xapian::rev ShardSet::revision() const {
  const State now = state();
  return std::accumulate(now.revisions.begin(), now.revisions.end(), Xapian::rev{0});
}

ShardSet::State ShardSet::state() const {
  State state;
  state.rebuilds = rebuilds_;
  for (const auto& shard : shards_) {
    Xapian::rev rev = 0;
    if (shard.up && shard.spec.kind == ShardSpec::Kind::local) {
      try {
        rev = shard.db.get_revision();
      } catch (const Xapian::Error&) {
        // reported by the next refresh()
      }
    }
    state.revisions.push_back(rev);
  }
  return state;
}

corpus::Result<ShardSet> ShardSet::open(const std::vector<std::string>& names, const ShardOptions& options) {
  auto specs = expand_shards(names);
  if (!specs.ok()) return specs.error();
  auto set = open(std::move(*specs), options);
  if (set.ok()) set->names_ = names;
  return set;
}

corpus::Result<ShardSet> ShardSet::open(std::vector<ShardSpec> specs, const ShardOptions& options) {
  ShardSet set;
  set.options_ = options;
  set.health_ = options.health ? options.health : std::make_shared<ShardHealth>();
  for (auto& spec : specs) {
    set.any_remote_ = set.any_remote_ || spec.kind != ShardSpec::Kind::local;
    Shard shard;
    shard.spec = std::move(spec);
    set.connect(shard);
    set.shards_.push_back(std::move(shard));
  }
  Status built = set.rebuild();
  if (!built.ok()) {
    // Nothing retries a set that never opened, so no "next attempt": say what could not be
    // opened and why ("cannot open index DIR: ..." for the one local folder of most setups).
    // Unless the shard was not even tried, being in a back-off shared with other sets (a
    // server's workers): then the next attempt is theirs too, and the message says when.
    // Every shard that is down is named (those in a back-off with their next attempt).
    const auto down = std::find_if(set.shards_.begin(), set.shards_.end(), [](const Shard& s) { return !s.up; });
    if (down == set.shards_.end() || (down->backed_off && set.missing_.size() == 1)) return built.error();
    std::string names;
    for (const auto& name : set.missing_) names += (names.empty() ? "" : ", ") + name;
    std::string message = set.shards_.size() == 1 ? "cannot open index " + names
                          : (set.missing_.size() == 1 ? "cannot open shard " : "cannot open shards ") + names;
    if (set.missing_.size() > 1)
      message += " (" + std::to_string(set.missing_.size()) + " of " + std::to_string(set.shards_.size()) + " shards are down)";
    message += ": " + set.down_reasons(false);
    return make_error(ErrorCode::unavailable, message, "shard");
  }
  return set;
}

std::string shards_unavailable(const std::vector<std::string>& names) {
  std::string joined;
  for (const auto& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return (names.size() == 1 ? "shard " : "shards ") + joined + (names.size() == 1 ? " is" : " are") + " unavailable";
}

std::string ShardSet::down_reasons(bool next_attempt) const {
  std::vector<const Shard*> down;
  for (const auto& shard : shards_)
    if (!shard.up) down.push_back(&shard);
  std::string reasons;
  for (const Shard* shard : down) {
    if (!reasons.empty()) reasons += "; ";
    if (down.size() > 1) reasons += shard->spec.name + ": ";
    reasons += shard->error;
    if (!next_attempt && !shard->backed_off) continue;
    const ShardHealth::Entry health = health_->get(shard->spec.name);
    if (const auto t = now(); health.failures > 0 && health.retry_at > t) {
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(health.retry_at - t).count();
      reasons += " (next attempt in " + std::to_string(wait) + " ms)";
    }
  }
  return reasons;
}

corpus::Status ShardSet::rebuild() {
  ++rebuilds_;
  db_ = Xapian::Database();
  missing_.clear();
  std::size_t up = 0;
  for (const auto& shard : shards_) {
    if (shard.up) {
      db_.add_database(shard.db);
      ++up;
    } else {
      missing_.push_back(shard.spec.name);
    }
  }
  if (missing_.empty()) return Status::success();
  // Every shard that is down, named first: "shards A, C are unavailable (2 of 3 shards are
  // down): A: why (next attempt in N ms); C: why".
  std::string message = shards_unavailable(missing_);
  if (missing_.size() > 1) message += " (" + std::to_string(missing_.size()) + " of " + std::to_string(shards_.size()) + " shards are down)";
  message += ": " + down_reasons(true);
  if (up == 0 && options_.partial) message += "; no shard answers";
  if (up == 0 || !options_.partial) return make_error(ErrorCode::unavailable, message, "shard");
  return Status::success();
}

corpus::Status ShardSet::refresh() {
  if (!names_.empty()) {
    auto specs = expand_shards(names_);
    if (!specs.ok()) return specs.error();
    bool same = specs->size() == shards_.size();
    for (std::size_t i = 0; same && i < shards_.size(); ++i) same = (*specs)[i].name == shards_[i].spec.name;
    if (!same) {
      shards_.clear();
      for (auto& spec : *specs) {
        Shard shard;
        shard.spec = std::move(spec);
        connect(shard);
        shards_.push_back(std::move(shard));
      }
      return rebuild();
    }
  }
  bool changed = false;
  for (auto& shard : shards_) {
    if (!shard.up) {
      if (may_retry(shard)) changed = connect(shard) || changed;
      continue;
    }
    if (health_->get(shard.spec.name).downs > shard.downs_seen) {
      // Found down (by another set sharing the health) since this connection was made: the
      // connection is stale or hangs. Connect afresh once the back-off allows, without first
      // waiting out a timeout on it; until then the shard is left out.
      connect(shard);
      changed = true;
      continue;
    }
    try {
      // A local database replaced underneath by one at the same revision (an index rebuilt
      // elsewhere and renamed into place): Xapian 1.4's reopen() reads the new version file
      // (its UUID, its counts) but keeps reading the old tables, and says nothing changed.
      // A new UUID opens it afresh.
      const bool local = shard.spec.kind == ShardSpec::Kind::local;
      const std::string uuid = local ? shard.db.get_uuid() : std::string();
      shard.db.reopen();
      if (local && shard.db.get_uuid() != uuid) {
        connect(shard);
        changed = true;
      }
    } catch (const Xapian::NetworkError&) {
      // Usually a connection tcpsrv closed after its idle timeout: connect again.
      connect(shard);
      changed = true;
    } catch (const Xapian::DatabaseClosedError&) {
      connect(shard);
      changed = true;
    } catch (const Xapian::Error& e) {
      if (shard.spec.kind != ShardSpec::Kind::local) {
        connect(shard);
        changed = true;
        continue;
      }
      return corpus::error_from_xapian(e, "shard " + shard.spec.name);
    }
  }
  if (changed || !missing_.empty()) return rebuild();
  return Status::success();
}

corpus::Status ShardSet::recover() {
  // A request that failed half-way may leave replies unread on the healthy connections too,
  // so every remote shard gets a fresh connection; those that cannot be reached are left out.
  // A shard already known to be down keeps its back-off.
  for (auto& shard : shards_)
    if (shard.spec.kind != ShardSpec::Kind::local && (shard.up || may_retry(shard))) connect(shard);
  return rebuild();
}

}  // namespace medsearch::searcher
