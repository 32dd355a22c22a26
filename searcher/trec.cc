// BEIR queries in, TREC run out.
#include "searcher/trec.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "corpus/analysis.h"

namespace medsearch::searcher {

using nlohmann::json;

Result<std::vector<BatchQuery>> read_beir_queries(const std::string& path,
                                                  const std::function<void(const std::string&)>& report) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return corpus::make_error(ErrorCode::unavailable, path + ": cannot open for reading");
  std::vector<BatchQuery> queries;
  std::map<std::string, std::size_t> first_line;  // id -> the line that gave it
  std::string line;
  for (std::size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    if (!corpus::is_valid_utf8(line)) {
      report(where + "invalid UTF-8");
      continue;
    }
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      report(where + "invalid JSON");
      continue;
    }
    if (!j.is_object()) {
      report(where + "a query is a JSON object");
      continue;
    }
    auto id = j.find("_id");
    auto text = j.find("text");
    if (id == j.end() || text == j.end() || !text->is_string() || !(id->is_string() || id->is_number_integer())) {
      report(where + "a query needs string fields '_id' and 'text'");
      continue;
    }
    BatchQuery query{id->is_string() ? id->get<std::string>() : std::to_string(id->get<long long>()),
                     text->get<std::string>()};
    // The id is the first field of a space-separated TREC run line, and names one query.
    if (query.id.empty() || query.id.find_first_of(" \t\r\n\v\f") != std::string::npos) {
      report(where + "'_id' must be non-empty and without spaces");
      continue;
    }
    if (query.text.find_first_not_of(" \t\r\n\v\f") == std::string::npos) {
      report(where + "'text' is empty");
      continue;
    }
    if (auto [at, added] = first_line.emplace(query.id, line_no); !added) {
      report(where + "duplicate '_id' " + query.id + " (first on line " + std::to_string(at->second) + ")");
      continue;
    }
    queries.push_back(std::move(query));
  }
  return queries;
}

RunCounts write_trec_run(Searcher& searcher, const std::vector<BatchQuery>& queries, int depth,
                         const std::string& tag, std::ostream& out,
                         const std::function<void(const std::string&)>& report, bool rerank) {
  RunCounts counts;
  char score[32];
  for (const BatchQuery& q : queries) {
    ++counts.queries;
    SearchRequest request;
    request.query = q.text;
    if (request.query.size() > kMaxQueryBytes) {
      // Cut long queries at a character boundary rather than failing them.
      std::size_t cut = kMaxQueryBytes;
      while (cut > 0 && (static_cast<unsigned char>(request.query[cut]) & 0xC0) == 0x80) --cut;
      request.query.resize(cut);
    }
    request.snippet_bytes = 0;
    request.count_total = false;  // a run has no place for it
    request.per_record = 1;
    request.rerank = rerank;
    int written = 0;
    bool failed = false;
    QueryTiming timing;
    timing.id = q.id;
    const auto started = std::chrono::steady_clock::now();
    while (written < depth) {
      request.offset = written;
      request.limit = std::min(kMaxLimit, depth - written);
      auto response = searcher.search(request);
      if (!response.ok()) {
        report("query " + q.id + ": " + response.error().message);
        failed = true;
        break;
      }
      counts.stage_ms += response->timings;
      timing.stages += response->timings;
      for (const Hit& hit : response->hits) {
        std::snprintf(score, sizeof score, "%.6f", hit.score);
        out << q.id << " Q0 " << hit.stored.passage.record_id << ' ' << hit.rank << ' ' << score << ' ' << tag << '\n';
        ++written;
        ++counts.lines;
      }
      if (response->hits.size() < static_cast<std::size_t>(request.limit)) break;
    }
    if (failed) {
      ++counts.failed;
      timing.failed = true;
      timing.stages = {};
    } else {
      timing.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    }
    counts.per_query.push_back(std::move(timing));
  }
  return counts;
}

std::vector<double> RunCounts::latency_ms() const {
  std::vector<double> ms;
  for (const QueryTiming& q : per_query)
    if (!q.failed) ms.push_back(q.ms);
  return ms;
}

void write_query_timings(const RunCounts& counts, std::ostream& out) {
  out << "query_id\tms\tparse\tfeedback\tmatch\trerank\tspelling\toutput\tstatus\n";
  char line[256];
  for (const QueryTiming& q : counts.per_query) {
    if (q.failed) {
      out << q.id << "\t\t\t\t\t\t\t\tfailed\n";
      continue;
    }
    const StageTimings& t = q.stages;
    std::snprintf(line, sizeof line, "\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\tok\n", q.ms, t.parse, t.feedback,
                  t.match, t.rerank, t.spelling, t.output);
    out << q.id << line;
  }
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(values.size()));
  const std::size_t index = rank < 1 ? 0 : std::min(values.size() - 1, static_cast<std::size_t>(rank) - 1);
  return values[index];
}

}  // namespace medsearch::searcher
