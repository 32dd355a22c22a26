// The query loop shared by the C++ searchers of scripts/bench-query.sh (medsearch through its
// library, the plain Xapian loop, SQLite FTS5), so that every engine is timed the same way:
//
//   TOOL --index PATH --queries FILE.tsv --out LATENCIES.tsv [--threads N] [--warmup P]
//        [--passes T] [--budget-s S] [engine options --name value ...]
//
// FILE.tsv: one query a line, "set<TAB>id<TAB>text". Warm-up: P passes over the queries on one
// thread, untimed (page cache and the engine's own caches warm, as on a server that has been
// up for a while). Then T timed passes (default 1): N threads each with their own engine (opened
// before the clock starts) take the next query from a shared counter until T passes' queries
// have been taken or S seconds have passed (S = 0: no limit). More than one pass spreads each
// question's samples over a longer time, so that a slow spell of a shared machine shifts the
// percentiles less. Each query's latency is the steady clock around the
// engine call, which includes reading the top 10 hits' stored data; beside it the thread's CPU
// time for the call (CLOCK_THREAD_CPUTIME_ID), which a busy shared machine inflates far less than
// the wall clock: a query that waits for a core has a long latency but the same CPU time.
//
// LATENCIES.tsv: "set<TAB>id<TAB>thread<TAB>ms<TAB>hits<TAB>cpu_ms" per query. stdout, one line:
// "queries N errors E wall_s W qps Q". Exit 0, or 2 for usage and I/O errors.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bench {

struct Query {
  std::string set, id, text;
};

struct Options {
  std::string index, queries, out;
  int threads = 1;
  int warmup = 1;
  int passes = 1;
  double budget_s = 0;
  std::map<std::string, std::string> extra;  // engine options, "--name value" without the dashes

  std::string get(const std::string& name, const std::string& fallback) const {
    auto it = extra.find(name);
    return it == extra.end() ? fallback : it->second;
  }
};

inline bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) return false;
    std::string v = argv[++i];
    a = a.substr(2);
    if (a == "index") o.index = v;
    else if (a == "queries") o.queries = v;
    else if (a == "out") o.out = v;
    else if (a == "threads") o.threads = std::atoi(v.c_str());
    else if (a == "warmup") o.warmup = std::atoi(v.c_str());
    else if (a == "passes") o.passes = std::atoi(v.c_str());
    else if (a == "budget-s") o.budget_s = std::atof(v.c_str());
    else o.extra[a] = v;
  }
  return !o.index.empty() && !o.queries.empty() && !o.out.empty() && o.threads >= 1 && o.warmup >= 0 && o.passes >= 1;
}

inline std::vector<Query> read_queries(const std::string& path) {
  std::vector<Query> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto a = line.find('\t');
    auto b = a == std::string::npos ? a : line.find('\t', a + 1);
    if (b == std::string::npos) continue;
    out.push_back({line.substr(0, a), line.substr(a + 1, b - a - 1), line.substr(b + 1)});
  }
  return out;
}

// One engine per thread: returns the number of hits read, or -1 for a query the engine refused.
using Engine = std::function<int(const std::string& text)>;

inline double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// make_engine() is called once per thread, before timing; it may throw to fail the run.
inline int run(const Options& o, const std::function<Engine()>& make_engine) {
  const std::vector<Query> queries = read_queries(o.queries);
  if (queries.empty()) {
    std::cerr << "bench: no queries in " << o.queries << "\n";
    return 2;
  }
  using clock = std::chrono::steady_clock;
  std::vector<Engine> engines;
  for (int t = 0; t < o.threads; ++t) engines.push_back(make_engine());

  const auto warm_start = clock::now();
  for (int p = 0; p < o.warmup; ++p) {
    for (const auto& q : queries) {
      engines[0](q.text);
      if (o.budget_s > 0 && std::chrono::duration<double>(clock::now() - warm_start).count() > o.budget_s) break;
    }
  }

  struct Row {
    std::size_t query;
    int thread;
    double ms;
    int hits;
    double cpu_ms;
  };
  std::vector<std::vector<Row>> rows(o.threads);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  const auto start = clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < o.threads; ++t) {
    workers.emplace_back([&, t] {
      while (!stop.load(std::memory_order_relaxed)) {
        const std::size_t taken = next.fetch_add(1);
        if (taken >= queries.size() * static_cast<std::size_t>(o.passes)) break;
        const std::size_t i = taken % queries.size();
        const double c0 = thread_cpu_ms();
        const auto t0 = clock::now();
        const int hits = engines[t](queries[i].text);
        const auto t1 = clock::now();
        const double c1 = thread_cpu_ms();
        rows[t].push_back({i, t, std::chrono::duration<double, std::milli>(t1 - t0).count(), hits, c1 - c0});
        if (o.budget_s > 0 && std::chrono::duration<double>(t1 - start).count() > o.budget_s) stop = true;
      }
    });
  }
  for (auto& w : workers) w.join();
  const double wall = std::chrono::duration<double>(clock::now() - start).count();

  std::ofstream out(o.out);
  std::size_t n = 0, errors = 0;
  for (const auto& per_thread : rows) {
    for (const auto& r : per_thread) {
      const Query& q = queries[r.query];
      out << q.set << '\t' << q.id << '\t' << r.thread << '\t' << r.ms << '\t' << r.hits << '\t' << r.cpu_ms << '\n';
      ++n;
      if (r.hits < 0) ++errors;
    }
  }
  if (!out) {
    std::cerr << "bench: cannot write " << o.out << "\n";
    return 2;
  }
  std::printf("queries %zu errors %zu wall_s %.3f qps %.2f\n", n, errors, wall, wall > 0 ? n / wall : 0.0);
  return 0;
}

}  // namespace bench
