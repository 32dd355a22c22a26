// Ranking metrics as trec_eval computes them.
#include "searcher/evaluation.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace medsearch::searcher {

using corpus::ErrorCode;
using corpus::make_error;

namespace {

// The whole field or nothing: stoi and stod stop at the first bad character, so '2x' was read
// as relevance 2 and '9abc' as score 9. trec_eval's runs may write a '+'.
bool parse_int(const std::string& field, int& value) {
  const char* begin = field.data() + (field.size() > 1 && field[0] == '+' ? 1 : 0);
  const char* end = field.data() + field.size();
  auto [at, ec] = std::from_chars(begin, end, value);
  return ec == std::errc() && at == end;
}

// A score that orders: NaN compares false with everything (the sort's order breaks), and an
// infinite score or one out of range says the run is broken rather than ranked.
enum class Number { ok, not_a_number, not_finite };
Number parse_score(const std::string& field, double& value) {
  char* end = nullptr;
  value = std::strtod(field.c_str(), &end);
  if (end != field.c_str() + field.size()) return Number::not_a_number;
  return std::isfinite(value) ? Number::ok : Number::not_finite;
}

}  // namespace

corpus::Result<Qrels> read_qrels(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::unavailable, path + ": cannot open for reading");
  Qrels qrels;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string x; fields >> x;) f.push_back(x);
    if (f.empty()) continue;
    if (n == 1 && f[0] == "query-id") continue;  // BEIR header
    std::string qid, doc, rel;
    if (f.size() == 3) {
      qid = f[0], doc = f[1], rel = f[2];
    } else if (f.size() == 4) {
      qid = f[0], doc = f[2], rel = f[3];
    } else {
      return make_error(ErrorCode::parse, path + ":" + std::to_string(n) + ": expected 3 or 4 fields");
    }
    int value = 0;
    if (!parse_int(rel, value))
      return make_error(ErrorCode::parse, path + ":" + std::to_string(n) + ": relevance '" + rel + "' is not an integer");
    qrels[qid][doc] = value;
  }
  return qrels;
}

corpus::Result<Run> read_run(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::unavailable, path + ": cannot open for reading");
  Run run;
  // A document twice for one query would count twice (nDCG above 1); trec_eval refuses such a
  // run too ("duplicate docs").
  std::map<std::string, std::map<std::string, std::size_t>> seen;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    std::istringstream fields(line);
    std::string qid, q0, doc, rank, score, tag;
    if (!(fields >> qid)) continue;
    if (!(fields >> q0 >> doc >> rank >> score >> tag))
      return make_error(ErrorCode::parse, path + ":" + std::to_string(n) + ": expected 6 fields");
    if (auto [at, added] = seen[qid].emplace(doc, n); !added)
      return make_error(ErrorCode::parse, path + ":" + std::to_string(n) + ": document " + doc + " appears twice for query " +
                                              qid + " (first on line " + std::to_string(at->second) + ")");
    double value = 0;
    switch (parse_score(score, value)) {
      case Number::ok:
        break;
      case Number::not_a_number:
        return make_error(ErrorCode::parse, path + ":" + std::to_string(n) + ": score '" + score + "' is not a number");
      case Number::not_finite:
        return make_error(ErrorCode::parse,
                          path + ":" + std::to_string(n) + ": score '" + score + "' is not a finite number");
    }
    run[qid].push_back({doc, value});
  }
  return run;
}

namespace {

QueryScores score_query(const std::map<std::string, int>& judged, std::vector<RunEntry> ranked) {
  std::stable_sort(ranked.begin(), ranked.end(), [](const RunEntry& a, const RunEntry& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.doc > b.doc;
  });
  QueryScores s;
  std::vector<int> ideal;
  std::size_t relevant = 0;
  for (const auto& [doc, rel] : judged) {
    if (rel > 0) {
      ideal.push_back(rel);
      ++relevant;
    }
  }
  std::sort(ideal.rbegin(), ideal.rend());
  double dcg = 0, idcg = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(10, ideal.size()); ++i) idcg += ideal[i] / std::log2(i + 2.0);
  std::size_t found100 = 0;
  for (std::size_t i = 0; i < ranked.size() && i < 100; ++i) {
    auto it = judged.find(ranked[i].doc);
    int rel = it == judged.end() ? 0 : it->second;
    if (rel <= 0) continue;
    if (i < 10) {
      dcg += rel / std::log2(i + 2.0);
      if (s.mrr10 == 0) s.mrr10 = 1.0 / static_cast<double>(i + 1);
    }
    ++found100;
  }
  s.ndcg10 = idcg > 0 ? dcg / idcg : 0;
  s.recall100 = relevant ? static_cast<double>(found100) / static_cast<double>(relevant) : 0;
  return s;
}

}  // namespace

Evaluation evaluate(const Qrels& qrels, const Run& run) {
  Evaluation e;
  for (const auto& [qid, judged] : qrels) {
    if (std::none_of(judged.begin(), judged.end(), [](const auto& p) { return p.second > 0; })) continue;
    ++e.queries;
    auto it = run.find(qid);
    QueryScores s;
    if (it == run.end()) ++e.queries_without_run;
    else s = score_query(judged, it->second);
    e.per_query[qid] = s;
    e.mean.ndcg10 += s.ndcg10;
    e.mean.recall100 += s.recall100;
    e.mean.mrr10 += s.mrr10;
  }
  if (e.queries) {
    e.mean.ndcg10 /= static_cast<double>(e.queries);
    e.mean.recall100 /= static_cast<double>(e.queries);
    e.mean.mrr10 /= static_cast<double>(e.queries);
  }
  return e;
}

}  // namespace medsearch::searcher
