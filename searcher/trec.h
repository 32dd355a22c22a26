// Batch runs for evaluation: BEIR queries.jsonl in, a TREC run file out (one line per record,
// its best passage), readable by trec_eval and our own evaluator.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "searcher/searcher.h"

namespace medsearch::searcher {

struct BatchQuery {
  std::string id;
  std::string text;
};

// Reads BEIR queries.jsonl (`_id`, `text`). Bad lines are reported as "file:line: reason"
// and skipped: invalid JSON, a missing field, an empty `_id` or one with spaces (it is a
// field of the run), empty `text`, an `_id` given before.
Result<std::vector<BatchQuery>> read_beir_queries(const std::string& path,
                                                  const std::function<void(const std::string&)>& report);

// One query of a run: its wall time and where it went (summed over the pages it took), or
// that it failed.
struct QueryTiming {
  std::string id;
  bool failed = false;
  double ms = 0;
  StageTimings stages;
};

struct RunCounts {
  std::size_t queries = 0;
  std::size_t failed = 0;
  std::size_t lines = 0;
  StageTimings stage_ms;               // summed over every search the run made
  std::vector<QueryTiming> per_query;  // every query, in query order

  // The wall time of each query that answered, in query order.
  std::vector<double> latency_ms() const;
};

// Writes `per_query` as TSV: a header line, then `query_id ms parse feedback match rerank
// spelling output status` per query (ms to 3 decimals; status ok or failed, a failed query's
// times empty).
void write_query_timings(const RunCounts& counts, std::ostream& out);

// The p-th percentile (0-100, nearest rank) of `values`; 0 when empty.
double percentile(std::vector<double> values, double p);

// Writes `qid Q0 record_id rank score tag` lines, up to `depth` records per query (ranks
// from 1). A query that fails is reported and contributes no lines. `rerank` false runs the
// first stage alone.
RunCounts write_trec_run(Searcher& searcher, const std::vector<BatchQuery>& queries, int depth,
                         const std::string& tag, std::ostream& out,
                         const std::function<void(const std::string&)>& report, bool rerank = true);

}  // namespace medsearch::searcher
