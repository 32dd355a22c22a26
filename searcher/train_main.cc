// medsearch-train: learns the rerank weights (searcher/rerank.h) from judged queries.
//
// For each judged query of each training set it takes the first stage's top records with
// their features, then fits a linear model by coordinate ascent on mean nDCG@10 (RankLib's
// "Coordinate Ascent", with the BM25 weight held at 1), sets weighted equally. It reports
// k-fold cross-validated nDCG@10 per set next to the first stage alone, then fits on all
// queries and writes the model file.
//
//   medsearch-train --out searcher/rerank_model.json
//     --set scifact:/tmp/idx-scifact:../shared/data/scifact/queries.jsonl:../shared/data/scifact/qrels/train.tsv
//     --set nfcorpus:/tmp/idx-nfcorpus:../shared/data/nfcorpus/queries.jsonl:../shared/data/nfcorpus/qrels/dev.tsv
// (scripts/train-rerank.sh builds the indexes and runs exactly this).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "searcher/evaluation.h"
#include "searcher/rerank.h"
#include "searcher/searcher.h"
#include "searcher/trec.h"

namespace ms = medsearch::searcher;
namespace rr = medsearch::searcher::rerank;

namespace {

struct Query {
  std::string id;
  std::vector<rr::Features> features;  // candidates in first-stage order
  std::vector<double> gains;           // judged relevance of each candidate (0 if unjudged)
  double ideal = 0;                    // ideal DCG@10 from every judgment of the query
};

struct Set {
  std::string name;
  std::vector<Query> queries;
};

double discount(std::size_t rank0) { return 1.0 / std::log2(static_cast<double>(rank0) + 2.0); }

// nDCG@10 of one query whose candidates' scores are in `scored` as (score, candidate); ties
// keep first-stage order. Reorders `scored`.
double ndcg10_scored(const Query& q, std::vector<std::pair<double, std::size_t>>& scored) {
  if (q.ideal <= 0) return 0;
  const std::size_t top = std::min<std::size_t>(10, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<long>(top), scored.end(),
                    [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  double dcg = 0;
  for (std::size_t r = 0; r < top; ++r) dcg += q.gains[scored[r].second] * discount(r);
  return dcg / q.ideal;
}

// nDCG@10 of one query under linear weights w.
double ndcg10(const Query& q, const rr::Features& w, std::vector<std::pair<double, std::size_t>>& scratch) {
  scratch.clear();
  for (std::size_t i = 0; i < q.features.size(); ++i) {
    double s = 0;
    for (std::size_t k = 0; k < rr::kFeatureCount; ++k) s += w[k] * q.features[i][k];
    scratch.emplace_back(s, i);
  }
  return ndcg10_scored(q, scratch);
}

// Mean over sets of each set's mean nDCG@10 over the queries selected by `use`.
double objective(const std::vector<Set>& sets, const std::vector<std::vector<char>>& use, const rr::Features& w) {
  std::vector<std::pair<double, std::size_t>> scratch;
  double total = 0;
  std::size_t counted = 0;
  for (std::size_t s = 0; s < sets.size(); ++s) {
    double sum = 0;
    std::size_t n = 0;
    for (std::size_t i = 0; i < sets[s].queries.size(); ++i) {
      if (!use[s][i]) continue;
      sum += ndcg10(sets[s].queries[i], w, scratch);
      ++n;
    }
    if (n > 0) {
      total += sum / static_cast<double>(n);
      ++counted;
    }
  }
  return counted ? total / static_cast<double>(counted) : 0;
}

rr::Features identity() {
  rr::Features w{};
  w[0] = 1;
  return w;
}

// The features a fit may weigh (--features); the others keep weight 0, so a search need not
// compute them (Model::uses).
using Allowed = std::array<bool, rr::kFeatureCount>;

// Sets marks[i] for each feature named in `names` (an option's comma-separated list); false,
// with the unknown name and the known ones on stderr, if a name is no feature.
bool mark_features(const char* option, const std::vector<std::string>& names, Allowed& marks) {
  for (const std::string& name : names) {
    const std::size_t index = rr::feature_index(name);
    if (index == rr::kFeatureCount) {
      std::cerr << "medsearch-train: " << option << ": unknown feature '" << name << "' (known:";
      for (const char* f : rr::kFeatureNames) std::cerr << " " << f;
      std::cerr << ")\n";
      return false;
    }
    marks[index] = true;
  }
  return true;
}

std::string comma_joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ",") + name;
  return out;
}

// Coordinate ascent from the first stage and from `restarts` seeded perturbations of it, over
// the allowed features.
rr::Features fit(const std::vector<Set>& sets, const std::vector<std::vector<char>>& use, int restarts, unsigned seed,
                 const Allowed& allowed) {
  static const double kSteps[] = {-2, -1, -0.5, -0.25, -0.1, -0.05, -0.02, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(-0.3, 0.3);
  rr::Features best_w = identity();
  double best = objective(sets, use, best_w);
  for (int r = 0; r <= restarts; ++r) {
    rr::Features w = identity();
    if (r > 0)
      for (std::size_t k = 1; k < rr::kFeatureCount; ++k) {
        const double j = jitter(rng);  // drawn for every feature: the same seed, the same draws
        if (allowed[k]) w[k] = j;
      }
    double current = objective(sets, use, w);
    for (int pass = 0; pass < 25; ++pass) {
      const double before = current;
      for (std::size_t k = 1; k < rr::kFeatureCount; ++k) {  // weight 0 (bm25) stays 1
        if (!allowed[k]) continue;
        double best_step = 0;
        for (double step : kSteps) {
          rr::Features trial = w;
          trial[k] += step;
          const double value = objective(sets, use, trial);
          if (value > current + 1e-9) {
            current = value;
            best_step = step;
          }
        }
        w[k] += best_step;
      }
      if (current - before < 1e-5) break;
    }
    if (current > best + 1e-9) {
      best = current;
      best_w = w;
    }
  }
  return best_w;
}

// Gradient-boosted regression trees on a pairwise logistic loss (RankNet's, as XGBoost's
// rank:pairwise and LambdaMART without its nDCG weighting), grown level by level with
// second-order gains (XGBoost's exact greedy split finding, L2 regularisation `lambda`), from the
// linear score of the weights `start` (all 0: from nothing). Every pair of a query's candidates with different judgments counts; the pairs of a
// query together weigh as much as its candidates, so a query with many judged records does not
// outweigh one with a single relevant record. Deterministic: no sampling.
struct Boosting {
  int trees = 300;
  int depth = 3;
  double eta = 0.05;
  double min_child_weight = 5;
  double lambda = 1;
  // Features the trees' output may only rise with (XGBoost's monotone constraints): a split on
  // one is kept only if its left leaf is not above its right, and each side's later leaves stay
  // on their side of the split's midpoint.
  Allowed increasing{};
};

std::vector<rr::Tree> boost(const std::vector<Set>& sets, const std::vector<std::vector<char>>& use, const Boosting& o,
                            const Allowed& allowed, const rr::Features& start) {
  // The used queries' candidates as rows.
  std::vector<rr::Features> x;
  std::vector<double> gain;
  std::vector<std::pair<std::size_t, std::size_t>> groups;  // [begin, end) rows of each query
  for (std::size_t s = 0; s < sets.size(); ++s)
    for (std::size_t i = 0; i < sets[s].queries.size(); ++i) {
      if (!use[s][i]) continue;
      const Query& q = sets[s].queries[i];
      const std::size_t begin = x.size();
      x.insert(x.end(), q.features.begin(), q.features.end());
      gain.insert(gain.end(), q.gains.begin(), q.gains.end());
      if (x.size() - begin > 1) groups.emplace_back(begin, x.size());
    }
  const std::size_t rows = x.size();
  std::vector<std::size_t> features;
  for (std::size_t k = 0; k < rr::kFeatureCount; ++k)
    if (allowed[k]) features.push_back(k);
  // Rows in increasing order of each feature, once (ties by row: the same order every run).
  std::vector<std::vector<std::uint32_t>> sorted(rr::kFeatureCount);
  for (std::size_t k : features) {
    auto& order = sorted[k];
    order.resize(rows);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&x, k](std::uint32_t a, std::uint32_t b) { return x[a][k] < x[b][k]; });
  }
  std::vector<double> score(rows, 0.0), grad(rows), hess(rows);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t k = 0; k < rr::kFeatureCount; ++k) score[r] += start[k] * x[r][k];
  std::vector<int> node_of(rows);
  std::vector<rr::Tree> out;
  for (int round = 0; round < o.trees; ++round) {
    std::fill(grad.begin(), grad.end(), 0.0);
    std::fill(hess.begin(), hess.end(), 0.0);
    for (const auto& [begin, end] : groups) {
      std::size_t pairs = 0;
      for (std::size_t a = begin; a < end; ++a)
        for (std::size_t b = begin; b < end; ++b) pairs += gain[a] > gain[b];
      if (pairs == 0) continue;
      const double w = static_cast<double>(end - begin) / static_cast<double>(pairs);
      for (std::size_t a = begin; a < end; ++a)
        for (std::size_t b = begin; b < end; ++b) {
          if (!(gain[a] > gain[b])) continue;
          const double p = 1.0 / (1.0 + std::exp(score[b] - score[a]));  // P(a above b)
          const double g = (1.0 - p) * w, h = std::max(2.0 * p * (1.0 - p) * w, 1e-16);
          grad[a] -= g;
          grad[b] += g;
          hess[a] += h;
          hess[b] += h;
        }
    }
    // Grow one tree level by level: nodes of the level being split are open.
    rr::Tree tree;
    struct Open {
      int node;
      double g, h;
      double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
    };
    auto add_node = [&tree]() {
      tree.feature.push_back(-1);
      tree.threshold.push_back(0);
      tree.left.push_back(0);
      tree.right.push_back(0);
      tree.value.push_back(0);
      return static_cast<int>(tree.feature.size() - 1);
    };
    std::fill(node_of.begin(), node_of.end(), add_node());
    double g0 = 0, h0 = 0;
    for (std::size_t r = 0; r < rows; ++r) g0 += grad[r], h0 += hess[r];
    std::vector<Open> open{{0, g0, h0}};
    auto leaf_value = [&o](double g, double h) { return -g / (h + o.lambda) * o.eta; };
    auto bounded = [&](const Open& n, double g, double h) { return std::clamp(leaf_value(g, h), n.lo, n.hi); };
    for (int level = 0; level < o.depth && !open.empty(); ++level) {
      const std::size_t nodes = tree.feature.size();
      std::vector<int> slot(nodes, -1);  // node -> its place in `open`
      for (std::size_t i = 0; i < open.size(); ++i) slot[static_cast<std::size_t>(open[i].node)] = static_cast<int>(i);
      struct Best {
        double gain = 0;
        int feature = -1;
        double threshold = 0, gl = 0, hl = 0;
      };
      std::vector<Best> best(open.size());
      std::vector<double> gl(open.size()), hl(open.size()), last(open.size());
      std::vector<char> seen(open.size());
      for (std::size_t k : features) {
        std::fill(gl.begin(), gl.end(), 0.0);
        std::fill(hl.begin(), hl.end(), 0.0);
        std::fill(seen.begin(), seen.end(), 0);
        for (std::uint32_t r : sorted[k]) {
          const int at = slot[static_cast<std::size_t>(node_of[r])];
          if (at < 0) continue;
          const auto i = static_cast<std::size_t>(at);
          const double v = x[r][k];
          // A split between the rows below v and those from v on.
          if (seen[i] && v > last[i] && hl[i] >= o.min_child_weight && open[i].h - hl[i] >= o.min_child_weight) {
            const double gr = open[i].g - gl[i], hr = open[i].h - hl[i];
            const double split = gl[i] * gl[i] / (hl[i] + o.lambda) + gr * gr / (hr + o.lambda) -
                                open[i].g * open[i].g / (open[i].h + o.lambda);
            const bool ordered =
                !o.increasing[k] || bounded(open[i], gl[i], hl[i]) <= bounded(open[i], gr, hr);
            if (ordered && split > best[i].gain + 1e-12)
              best[i] = {split, static_cast<int>(k), (last[i] + v) / 2, gl[i], hl[i]};
          }
          gl[i] += grad[r];
          hl[i] += hess[r];
          last[i] = v;
          seen[i] = 1;
        }
      }
      std::vector<Open> next;
      for (std::size_t i = 0; i < open.size(); ++i) {
        const auto n = static_cast<std::size_t>(open[i].node);
        if (best[i].feature < 0) {
          tree.value[n] = bounded(open[i], open[i].g, open[i].h);
          continue;
        }
        const int l = add_node(), r = add_node();
        tree.feature[n] = best[i].feature;
        tree.threshold[n] = best[i].threshold;
        tree.left[n] = l;
        tree.right[n] = r;
        Open left{l, best[i].gl, best[i].hl, open[i].lo, open[i].hi};
        Open right{r, open[i].g - best[i].gl, open[i].h - best[i].hl, open[i].lo, open[i].hi};
        if (o.increasing[static_cast<std::size_t>(best[i].feature)]) {
          const double mid = (bounded(open[i], left.g, left.h) + bounded(open[i], right.g, right.h)) / 2;
          left.hi = std::min(left.hi, mid);
          right.lo = std::max(right.lo, mid);
        }
        next.push_back(left);
        next.push_back(right);
      }
      for (std::size_t r = 0; r < rows; ++r) {
        const auto n = static_cast<std::size_t>(node_of[r]);
        if (tree.feature[n] >= 0 && slot[n] >= 0)
          node_of[r] = x[r][static_cast<std::size_t>(tree.feature[n])] < tree.threshold[n] ? tree.left[n] : tree.right[n];
      }
      open = std::move(next);
    }
    for (const Open& leaf : open) tree.value[static_cast<std::size_t>(leaf.node)] = bounded(leaf, leaf.g, leaf.h);
    for (std::size_t r = 0; r < rows; ++r) score[r] += tree.value[static_cast<std::size_t>(node_of[r])];
    out.push_back(std::move(tree));
  }
  return out;
}

// nDCG@10 of one query under `model`.
double ndcg10(const Query& q, const rr::Model& model, std::vector<std::pair<double, std::size_t>>& scratch) {
  scratch.clear();
  for (std::size_t c = 0; c < q.features.size(); ++c) scratch.emplace_back(model.score(q.features[c]), c);
  return ndcg10_scored(q, scratch);
}

// Mean nDCG@10 of a set's queries selected by `use` under `model`.
double set_mean(const Set& set, const std::vector<char>& use, const rr::Model& model) {
  std::vector<std::pair<double, std::size_t>> scratch;
  double sum = 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < set.queries.size(); ++i) {
    if (!use[i]) continue;
    sum += ndcg10(set.queries[i], model, scratch);
    ++n;
  }
  return n ? sum / static_cast<double>(n) : 0;
}

double set_mean(const Set& set, const std::vector<char>& use, const rr::Features& w) {
  std::vector<std::pair<double, std::size_t>> scratch;
  double sum = 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < set.queries.size(); ++i) {
    if (!use[i]) continue;
    sum += ndcg10(set.queries[i], w, scratch);
    ++n;
  }
  return n ? sum / static_cast<double>(n) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"medsearch-train: learn the rerank weights from judged queries"};
  std::vector<std::string> set_specs;
  std::string out_path, cv_queries_path;
  int folds = 5;
  int depth = 100;
  int restarts = 2;
  unsigned seed = 1;
  rr::Feedback feedback;
  std::vector<std::string> feature_list;
  std::string learner = "linear";
  Boosting boosting;
  app.add_option("--set", set_specs, "NAME:INDEX:QUERIES.jsonl:QRELS.tsv (repeatable; sets weigh equally)")->required();
  app.add_option("--out", out_path, "write the fitted model (JSON) here");
  app.add_option("--folds", folds, "cross-validation folds (0 or 1: none)")->check(CLI::Range(0, 20));
  app.add_option("--cv-queries", cv_queries_path,
                 "write each judged query's cross-validated nDCG@10 here (TSV: set, query id, first stage, reranked "
                 "by the model of the folds that held it out)");
  app.add_option("--depth", depth, "first-stage records reranked per query")->check(CLI::Range(10, 1000));
  app.add_option("--restarts", restarts, "extra coordinate-ascent starts from seeded perturbations")->check(CLI::Range(0, 50));
  app.add_option("--seed", seed, "seed of those perturbations");
  app.add_option("--feedback-docs", feedback.docs, "first-stage pseudo-relevance feedback: top passages (0 = off)")
      ->check(CLI::Range(0u, 100u));
  app.add_option("--feedback-terms", feedback.terms, "expansion terms")->check(CLI::Range(1u, 100u));
  app.add_option("--feedback-alpha", feedback.alpha, "weight of the expansion")->check(CLI::Range(0.0, 2.0));
  app.add_option("--widen-min-terms", feedback.widen_min_terms,
                 "questions with at least this many words may match new passages through the expansion");
  app.add_option("--feedback-max-words", feedback.max_words,
                 "questions with more distinct words get no feedback (0: no limit)");
  app.add_option("--feedback-max-df", feedback.max_df,
                 "terms in more than this fraction of the passages are not expansion terms (0: no cap)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--feedback-max-df-passages", feedback.max_df_passages,
                 "nor terms in more than this many passages (0: no cap; for large indexes)");
  app.add_option("--features", feature_list,
                 "the features to weigh (comma-separated; default all); the others get weight 0 and are not computed "
                 "when searching")
      ->delimiter(',');
  app.add_option("--learner", learner,
                 "linear: weights by coordinate ascent on nDCG@10; trees: gradient-boosted regression trees on a "
                 "pairwise loss; linear+trees: the trees boost the linear model's score")
      ->check(CLI::IsMember({"linear", "trees", "linear+trees"}));
  app.add_option("--trees", boosting.trees, "trees: how many")->check(CLI::Range(1, 5000));
  app.add_option("--tree-depth", boosting.depth, "trees: levels of splits in each")->check(CLI::Range(1, 8));
  app.add_option("--learning-rate", boosting.eta, "trees: shrinkage of each tree's values")->check(CLI::Range(0.001, 1.0));
  app.add_option("--min-child-weight", boosting.min_child_weight,
                 "trees: least loss curvature (hessian) on each side of a split")
      ->check(CLI::Range(0.0, 1000.0));
  std::vector<std::string> monotone;
  app.add_option("--monotone", monotone, "trees: features their output may only rise with (comma-separated)")
      ->delimiter(',');
  app.set_version_flag("--version", std::string("medsearch-train ") + MEDSEARCH_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 2 as the README says (CLI11's own codes are 105, 106, ...); --help 0.
    return app.exit(e) == 0 ? 0 : 2;
  }

  Allowed allowed{};
  allowed.fill(feature_list.empty());
  allowed[0] = true;  // bm25: held at 1
  if (!mark_features("--features", feature_list, allowed) || !mark_features("--monotone", monotone, boosting.increasing))
    return 2;

  // A model or per-query file that cannot be written is found out now, not after minutes of
  // training; neither is created until there is something to write.
  for (const auto& [option, path] : {std::pair<const char*, const std::string&>{"--out", out_path},
                                     std::pair<const char*, const std::string&>{"--cv-queries", cv_queries_path}}) {
    if (path.empty()) continue;
    std::error_code ec;
    const std::filesystem::path dir = std::filesystem::absolute(path, ec).parent_path();
    if (ec || !std::filesystem::is_directory(dir, ec) || ::access(dir.c_str(), W_OK) != 0) {
      std::cerr << "medsearch-train: " << option << ' ' << path << ": " << dir.string() << " is not a writable folder\n";
      return 2;
    }
    if (std::filesystem::is_directory(path, ec)) {
      std::cerr << "medsearch-train: " << option << ' ' << path << ": is a folder\n";
      return 2;
    }
  }
  // The per-query file needs folds to hold queries out.
  if (!cv_queries_path.empty() && folds < 2) {
    std::cerr << "medsearch-train: --cv-queries needs --folds 2 or more\n";
    return 2;
  }

  // Every --set is checked before the first is loaded. A name given twice would share one entry
  // of the model's cross_validation report (the second set's figures replaced the first's).
  std::vector<std::vector<std::string>> specs;
  for (const std::string& spec : set_specs) {
    std::vector<std::string> parts;
    std::stringstream ss(spec);
    for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
    if (parts.size() != 4 || parts[0].empty()) {
      std::cerr << "medsearch-train: --set " << spec << ": expected NAME:INDEX:QUERIES:QRELS\n";
      return 2;
    }
    for (const auto& earlier : specs) {
      if (earlier[0] == parts[0]) {
        std::cerr << "medsearch-train: --set " << spec << ": the name " << parts[0] << " is given twice\n";
        return 2;
      }
    }
    specs.push_back(std::move(parts));
  }

  std::vector<Set> sets;
  std::ostringstream trained_on;
  for (const std::vector<std::string>& parts : specs) {
    auto searcher = ms::Searcher::open(parts[1]);
    if (!searcher.ok()) {
      std::cerr << "medsearch-train: " << searcher.error().message << "\n";
      return 2;
    }
    {
      rr::Model first = rr::Model::identity();
      first.feedback = feedback;
      (*searcher)->set_model(first);
    }
    auto qrels = ms::read_qrels(parts[3]);
    if (!qrels.ok()) {
      std::cerr << "medsearch-train: " << qrels.error().message << "\n";
      return 2;
    }
    auto queries = ms::read_beir_queries(parts[2], [](const std::string& m) { std::cerr << m << "\n"; });
    if (!queries.ok()) {
      std::cerr << "medsearch-train: " << queries.error().message << "\n";
      return 2;
    }
    Set set;
    set.name = parts[0];
    std::map<std::string, bool> in_queries;  // judged query id -> found in the queries file
    for (const auto& [qid, judged] : *qrels)
      if (std::any_of(judged.begin(), judged.end(), [](const auto& p) { return p.second > 0; })) in_queries[qid] = false;
    for (const ms::BatchQuery& bq : *queries) {
      if (auto it = in_queries.find(bq.id); it != in_queries.end()) it->second = true;
      auto judged = qrels->find(bq.id);
      if (judged == qrels->end()) continue;
      std::vector<double> ideal_gains;
      for (const auto& [doc, rel] : judged->second)
        if (rel > 0) ideal_gains.push_back(rel);
      if (ideal_gains.empty()) continue;
      std::sort(ideal_gains.rbegin(), ideal_gains.rend());
      Query q;
      q.id = bq.id;
      for (std::size_t r = 0; r < ideal_gains.size() && r < 10; ++r) q.ideal += ideal_gains[r] * discount(r);
      std::string text = bq.text.substr(0, ms::kMaxQueryBytes);
      while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();
      auto candidates = (*searcher)->candidates(text, depth);
      if (candidates.ok()) {
        for (const auto& c : *candidates) {
          // To 1e-9: the last bits of a sum can depend on how an index was split into shards,
          // and a tree's thresholds (midpoints between values) would carry them into the model.
          rr::Features f = c.features;
          for (double& v : f) v = std::round(v * 1e9) / 1e9;
          q.features.push_back(f);
          auto g = judged->second.find(c.record_id);
          q.gains.push_back(g != judged->second.end() && g->second > 0 ? g->second : 0);
        }
      } else {
        std::cerr << "medsearch-train: " << set.name << " query " << bq.id << ": " << candidates.error().message << "\n";
      }
      set.queries.push_back(std::move(q));  // a query without candidates still counts (as 0)
    }
    if (set.queries.empty()) {
      // Nothing to fit: the model would be the first stage's, written as if trained.
      std::cerr << "medsearch-train: " << set.name << ": no judged queries (no query of " << parts[2]
                << " has a relevant document in " << parts[3] << ")\n";
      return 2;
    }
    std::cerr << "medsearch-train: " << set.name << ": " << set.queries.size() << " judged queries\n";
    // Judged queries the queries file lacks are left out of the fit; say so rather than train
    // on fewer queries than the qrels promise (ids that differ, a queries file of another split).
    std::size_t missing = 0;
    std::string first_missing;
    for (const auto& [qid, found] : in_queries) {
      if (found) continue;
      if (missing++ == 0) first_missing = qid;
    }
    if (missing > 0)
      std::cerr << "medsearch-train: " << set.name << ": note: " << missing << " judged quer" << (missing == 1 ? "y" : "ies")
                << " of " << parts[3] << " not in " << parts[2] << " (left out; the first is " << first_missing << ")\n";
    trained_on << (sets.empty() ? "" : ", ") << set.name << " (" << set.queries.size() << " queries)";
    sets.push_back(std::move(set));
  }

  // A fold holds out the queries whose position modulo --folds is its number: with more folds
  // than any set has queries, some would hold out nothing and fit for nothing.
  if (folds > 1) {
    std::size_t most = 0;
    for (const Set& set : sets) most = std::max(most, set.queries.size());
    if (static_cast<std::size_t>(folds) > most) {
      std::cerr << "medsearch-train: --folds " << folds << " is more than the judged queries of every set (at most "
                << most << "); give --folds " << most << " or fewer (0: no cross-validation)\n";
      return 2;
    }
  }

  nlohmann::json report = nlohmann::json::object();
  if (folds > 1) {
    std::printf("%-12s %8s %10s %10s\n", "set", "queries", "first", "reranked");
    // Each query's pair of scores (first stage, reranked), from the fold that held it out; each
    // query is held out by exactly one fold.
    std::vector<std::vector<std::pair<double, double>>> per_query(sets.size());
    for (std::size_t s = 0; s < sets.size(); ++s) per_query[s].resize(sets[s].queries.size());
    std::vector<std::pair<double, std::size_t>> scratch;
    for (int f = 0; f < folds; ++f) {
      std::vector<std::vector<char>> train(sets.size()), test(sets.size());
      for (std::size_t s = 0; s < sets.size(); ++s) {
        for (std::size_t i = 0; i < sets[s].queries.size(); ++i) {
          const bool held = static_cast<int>(i % static_cast<std::size_t>(folds)) == f;
          train[s].push_back(!held);
          test[s].push_back(held);
        }
      }
      rr::Model fold;
      if (learner == "trees") {
        fold.weights.fill(0);
      } else {
        fold.weights = fit(sets, train, restarts, seed + static_cast<unsigned>(f), allowed);
      }
      if (learner != "linear") fold.set_trees(boost(sets, train, boosting, allowed, fold.weights));
      for (std::size_t s = 0; s < sets.size(); ++s)
        for (std::size_t i = 0; i < sets[s].queries.size(); ++i)
          if (test[s][i])
            per_query[s][i] = {ndcg10(sets[s].queries[i], identity(), scratch),
                               ndcg10(sets[s].queries[i], fold, scratch)};
    }
    if (!cv_queries_path.empty()) {
      std::ofstream cv_queries(cv_queries_path);
      cv_queries << "set\tquery_id\tfirst_stage\treranked\n";
      char line[64];
      for (std::size_t s = 0; s < sets.size(); ++s)
        for (std::size_t i = 0; i < sets[s].queries.size(); ++i) {
          std::snprintf(line, sizeof line, "\t%.4f\t%.4f\n", per_query[s][i].first, per_query[s][i].second);
          cv_queries << sets[s].name << '\t' << sets[s].queries[i].id << line;
        }
      cv_queries.close();
      if (!cv_queries) {
        std::cerr << "medsearch-train: --cv-queries " << cv_queries_path << ": write failed\n";
        return 2;
      }
    }
    for (std::size_t s = 0; s < sets.size(); ++s) {
      double first = 0, reranked = 0;
      for (const auto& [f, r] : per_query[s]) {
        first += f;
        reranked += r;
      }
      const std::size_t count = per_query[s].size();
      const double n = static_cast<double>(std::max<std::size_t>(count, 1));
      std::printf("%-12s %8zu %10.4f %10.4f\n", sets[s].name.c_str(), count, first / n, reranked / n);
      report[sets[s].name] = {{"queries", count},
                              {"first_stage_ndcg10", std::round(first / n * 1e4) / 1e4},
                              {"reranked_ndcg10", std::round(reranked / n * 1e4) / 1e4}};
    }
  }

  std::vector<std::vector<char>> all(sets.size());
  for (std::size_t s = 0; s < sets.size(); ++s) all[s].assign(sets[s].queries.size(), 1);
  rr::Model model;
  if (learner == "trees") {
    model.weights.fill(0);
  } else {
    model.weights = fit(sets, all, restarts, seed, allowed);
  }
  if (learner != "linear") model.set_trees(boost(sets, all, boosting, allowed, model.weights));
  model.depth = depth;
  model.feedback = feedback;
  std::ostringstream description;
  if (learner == "trees")
    description << boosting.trees << " gradient-boosted regression trees (pairwise logistic loss)";
  else if (learner == "linear+trees")
    description << "coordinate ascent on nDCG@10, then " << boosting.trees
                << " gradient-boosted regression trees (pairwise logistic loss) from its scores,";
  else
    description << "coordinate ascent on nDCG@10";
  description << " over the first stage's top " << depth << " records of " << trained_on.str() << "; medsearch-train";
  if (learner != "linear")
    description << " --learner " << learner << " --trees " << boosting.trees << " --tree-depth " << boosting.depth
                << " --learning-rate " << boosting.eta << " --min-child-weight " << boosting.min_child_weight;
  if (learner != "linear" && !monotone.empty()) description << " --monotone " << comma_joined(monotone);
  description << " --feedback-docs ";
  description << feedback.docs << " --feedback-terms " << feedback.terms
              << " --feedback-alpha " << feedback.alpha << " --widen-min-terms " << feedback.widen_min_terms
              << " --feedback-max-words " << feedback.max_words << " --feedback-max-df " << feedback.max_df;
  if (feedback.max_df_passages > 0) description << " --feedback-max-df-passages " << feedback.max_df_passages;
  description << " --folds " << folds;
  if (learner != "trees") description << " --restarts " << restarts << " --seed " << seed;
  if (!feature_list.empty()) description << " --features " << comma_joined(feature_list);
  model.description = description.str();
  if (learner != "linear") {
    std::size_t nodes = 0;
    for (const rr::Tree& t : model.trees()) nodes += t.feature.size();
    std::printf("fitted on all queries: %zu trees, %zu nodes; split on:", model.trees().size(), nodes);
    for (std::size_t k = 0; k < rr::kFeatureCount; ++k)
      if (model.uses(k)) std::printf(" %s", rr::kFeatureNames[k]);
    if (learner == "linear+trees") std::printf("\n");
  }
  if (learner != "trees") {
    std::printf(learner == "linear" ? "fitted on all queries:" : "their linear part:");
    for (std::size_t k = 0; k < rr::kFeatureCount; ++k) std::printf(" %s=%.3f", rr::kFeatureNames[k], model.weights[k]);
  }
  std::printf("\n");
  for (std::size_t s = 0; s < sets.size(); ++s)
    std::printf("%-12s training nDCG@10 first %.4f, reranked %.4f\n", sets[s].name.c_str(),
                set_mean(sets[s], all[s], identity()), set_mean(sets[s], all[s], model));

  if (!out_path.empty()) {
    nlohmann::json j = model.to_json();
    if (!report.empty()) j["cross_validation"] = report;
    // Written beside and renamed over: a failed write leaves the previous model whole.
    const std::string tmp_path = out_path + ".tmp";
    std::ofstream out(tmp_path);
    // One line a tree: the rest indented as before, thousands of nodes not one number a line.
    nlohmann::json trees = nlohmann::json::array();
    if (j.contains("trees")) {
      trees = std::move(j["trees"]);
      j.erase("trees");
    }
    std::string text = j.dump(2);
    if (!trees.empty()) {
      text.erase(text.rfind('}'));
      while (!text.empty() && text.back() == '\n') text.pop_back();
      text += ",\n  \"trees\": [";
      for (std::size_t t = 0; t < trees.size(); ++t) text += (t ? ",\n    " : "\n    ") + trees[t].dump();
      text += "\n  ]\n}";
    }
    out << text << "\n";
    out.close();
    std::error_code ec;
    if (!out || (std::filesystem::rename(tmp_path, out_path, ec), ec)) {
      std::cerr << "medsearch-train: " << out_path << ": write failed\n";
      std::filesystem::remove(tmp_path, ec);
      return 2;
    }
    std::cerr << "medsearch-train: wrote " << out_path << "\n";
  }
  return 0;
}
