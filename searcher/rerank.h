// The second ranking stage: a linear model over lexical features of the first stage's top
// records (BM25 over passages, one best passage per record). The features are cheap to
// compute from what Xapian already holds (term lists, positions, term statistics, an ESet),
// and the weights are learned from judgments by medsearch-train (coordinate ascent on nDCG@10,
// cross-validated); the shipped weights are searcher/rerank_model.json, compiled in.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <xapian.h>

#include "corpus/result.h"

namespace medsearch::searcher::rerank {

inline constexpr std::size_t kFeatureCount = 13;
using Features = std::array<double, kFeatureCount>;

// Names in feature order, as they appear in the model file.
extern const std::array<const char*, kFeatureCount> kFeatureNames;
// The place of the feature called `name` in kFeatureNames, or kFeatureCount when none is.
std::size_t feature_index(std::string_view name);
// The features whose cost the searcher skips when the model gives them no weight.
inline constexpr std::size_t kProximity = 4;
inline constexpr std::size_t kBigram = 5;
inline constexpr std::size_t kPassages = 6;
inline constexpr std::size_t kSemantic = 12;

// Pseudo-relevance feedback for the first stage: the query is widened with the `terms` best
// expansion terms (Xapian's ESet) of its top `docs` passages, their OR scaled by `alpha`.
// docs = 0 turns it off.
// A question with fewer than `widen_min_terms` distinct words, or written with syntax (a phrase,
// AND, NOT, +/-, a field), says exactly what to match: the expansion then only reorders what it
// matches (AND_MAYBE) instead of letting new passages in (OR).
struct Feedback {
  unsigned docs = 0;
  unsigned terms = 20;
  double alpha = 0.3;
  unsigned widen_min_terms = 3;
  // Questions with more distinct words than this get no feedback at all (0: no limit): a long
  // question already says what it is about, and its widened match is the slowest there is.
  unsigned max_words = 0;
  // Terms in more than this fraction of the passages are not expansion candidates (0: no cap).
  // Such a term ("patient", or NFCorpus's "num") adds little to a score (a low idf) and much
  // to the widened match, which reads its whole posting list.
  double max_df = 0;
  // Nor are terms in more than this many passages (0: no cap). max_df scales with the index;
  // this bounds the widened match's extra postings (terms x this) whatever the index's size,
  // for large indexes (README, medsearch-train: at 1M passages 10,000 instead of 5% took the
  // benchmark's p50 from 27 to 22 ms, its p99 from 122 to 89). Off in the shipped model: on
  // SciFact and NFCorpus a tighter cap costs quality, and no judged collection of that size is
  // at hand to weigh it there.
  Xapian::doccount max_df_passages = 0;
};

// True if the query is only words (OR of terms and synonyms), as a plain question parses; false
// when the user wrote syntax (a phrase, AND, NOT, +/-, a field) that says exactly what to match.
bool only_words(const Xapian::Query& query);

// A match's hit with its score rounded to 1e-9 (`key`): the same passage can score differently
// in the last bit in one database and across shards. sort_ranked() orders hits by key, best
// first, and equal keys by passage id, so an order never depends on how the index is split.
// The passage id is a document value (a block read each): only hits whose keys tie read it,
// into `passage_id`.
struct RankedHit {
  long long key = 0;
  std::string passage_id;  // empty until a tie needs it
  Xapian::MSetIterator it;
};
void sort_ranked(std::vector<RankedHit>& hits);

// Term frequencies of one database revision, remembered: the feedback's expansion weighs every
// word of its top passages, and each frequency is a B-tree lookup (a block read, a system call)
// while most words recur from search to search. Owned by one Searcher (one thread); cleared
// whenever its database is reopened. With a cache, feedback_from() computes Xapian's ESet
// weights itself (TradEWeight, k = 1: Xapian 1.4's default) over these frequencies; without
// one (remote shards, where term lists are round trips) it asks Xapian's Enquire::get_eset.
class TermFreqCache {
 public:
  Xapian::doccount get(const Xapian::Database& db, const std::string& term);
  void clear() { freqs_.clear(); }
  std::size_t size() const { return freqs_.size(); }

 private:
  static constexpr std::size_t kMaxTerms = 1 << 18;  // then start again: bounded memory
  std::unordered_map<std::string, Xapian::doccount> freqs_;
};

// Expansion terms (unprefixed stems) of the top `feedback.docs` passages of `query`, with
// their ESet weights, best first. Empty when feedback is off or nothing matches.
// `check_all` makes the first stage check every match (the searcher asks for it over remote
// shards, see Searcher::search_once). `best`, when given, receives the best score of `query`'s
// match (0 when feedback does not run or nothing matches).
std::vector<std::pair<std::string, double>> feedback_terms(const Xapian::Database& db, const Xapian::Query& query,
                                                           const Feedback& feedback, bool check_all = false,
                                                           TermFreqCache* cache = nullptr, double* best = nullptr);
// The feedback pass's match, for a caller that runs it itself (the searcher's facet match
// doubles as it): `query` by BM25, relevance then passage id, no collapse. feedback_from()
// takes its first feedback.docs + kFeedbackMargin passages.
inline constexpr unsigned kFeedbackMargin = 8;
Xapian::Enquire feedback_enquire(const Xapian::Database& db, const Xapian::Query& query);
std::vector<std::pair<std::string, double>> feedback_from(const Xapian::Database& db, const Xapian::Enquire& enquire,
                                                          const Xapian::MSet& top, const Feedback& feedback,
                                                          TermFreqCache* cache = nullptr);
// True if feedback runs for `query`: it is on, and the query has at most `feedback.max_words`
// distinct words when that is set.
bool feeds_back(const Xapian::Query& query, const Feedback& feedback);
// True if expand() ORs the expansion in (letting passages without the question's words in):
// the query is only words, at least `feedback.widen_min_terms` of them.
bool widens(const Xapian::Query& query, const Feedback& feedback);
// Each term scaled by alpha * its weight / the best weight: ORed with the query's own terms in
// one flat OR when widens() (rather than a scaled OR of the terms ORed with the query: the
// same scores, but Xapian prunes the flat OR more; rerank.cc), else query AND_MAYBE (the scaled
// terms' OR).
Xapian::Query expand(const Xapian::Query& query, const std::vector<std::pair<std::string, double>>& terms,
                     const Feedback& feedback);

// One regression tree of a boosted model (medsearch-train --learner trees). Node 0 is the root;
// node i is a leaf worth value[i] when feature[i] < 0, else it sends a candidate whose feature
// feature[i] is below threshold[i] to node left[i] and the others to right[i] (children always
// come after their parent, so every walk ends).
struct Tree {
  std::vector<int> feature;
  std::vector<double> threshold;
  std::vector<int> left, right;
  std::vector<double> value;
};

struct Model {
  std::array<double, kFeatureCount> weights{};  // score = sum of weight * feature (+ the trees)
  int depth = 100;                              // how many first-stage records are reranked
  Feedback feedback;                            // first-stage expansion (off by default)
  std::string description;                      // how the weights were made

  // The weights shipped with medsearch (searcher/rerank_model.json).
  static const Model& builtin();
  // The same, trained without the semantic feature (searcher/rerank_model_lexical.json): what
  // the searcher uses in place of builtin() over an index without a semantic model.
  static const Model& builtin_lexical();
  // The first stage alone: weight 1 on the normalised BM25 score, 0 elsewhere.
  static Model identity();
  static corpus::Result<Model> from_json(const nlohmann::json& j);
  // Reads a model file as medsearch-train writes it; errors name the file.
  static corpus::Result<Model> load(const std::string& path);
  nlohmann::json to_json() const;

  double score(const Features& f) const;
  // score() of each of features[0, n), the same values to the bit, computed one tree at a time
  // across the candidates: a tree's nodes stay in the cache while every candidate walks it, and
  // the candidates' walks are independent of each other (the searcher's rerank stage).
  std::vector<double> score_all(const std::vector<Features>& features, std::size_t n) const;
  // True if feature i counts in the score (a weight of 0 that no tree splits on lets the
  // searcher skip computing it).
  bool uses(std::size_t i) const { return weights[i] != 0 || split_on_[i]; }

  // Boosted regression trees added to the linear score (none: a linear model).
  const std::vector<Tree>& trees() const { return trees_; }
  void set_trees(std::vector<Tree> trees);

 private:
  double weights_rounded(std::size_t i) const;
  std::vector<Tree> trees_;
  // The leaf value a candidate reaches from node `root` of nodes_.
  double leaf_of(std::uint32_t root, const Features& f) const;
  // trees_ packed into one array, which score and score_all walk: a node's split threshold (a
  // leaf's value) with its feature (negative for a leaf) and its children's places in `nodes_`.
  struct Node {
    double split = 0;
    int feature = -1;
    std::uint32_t left = 0, right = 0;
  };
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> roots_;
  std::array<bool, kFeatureCount> split_on_{};
};

// Collapse counts of mset items [0, n) of an mset collapsed on the record id (kSlotRecordId):
// for each item's record, its passages that match `query`
// minus the `per_record` kept, at least 0. This is what MSetIterator::get_collapse_count() gives
// for one database when every match is checked, counted instead by one small query (`query`
// filtered to the records of those n items) so the main match need not check every match, and
// the same over local or remote shards (where Xapian 1.4 reports collapse counts as 0). On a
// `local` database a query of alternatives (OR, SYNONYM, scaled terms) is answered from the
// other passages' term lists instead, with the same counts.
std::vector<Xapian::doccount> record_collapse_counts(const Xapian::Database& db, const Xapian::Query& query,
                                                     const Xapian::MSet& mset, std::size_t n, int per_record,
                                                     bool local);

// Computes the features of candidate documents for one query over one database.
//
// The query's own terms are the `Z` (stemmed, positional) terms of the parsed query in query
// order, a synonym group counting as one term (see QueryTerm), as the first stage's BM25 counts
// it; each is weighted by its inverse document frequency. Features, all in [0, 1] or close:
//   bm25          first-stage weight / the best first-stage weight of the query
//   coverage_idf  idf-weighted share of the query's terms the passage contains
//   coverage      share of the query's terms the passage contains
//   title_idf     idf-weighted share of the query's terms in the record title
//   proximity     idf-weighted share of pairs of query terms within 8 words of each other
//   bigram        idf-weighted share of consecutive query-term pairs found adjacent, in order
//   passages      log(1 + other matching passages of the record) / log(11), capped at 1
//   length        log(passage length / average length), clamped to [-3, 3], divided by 3
//   prf           share of the ESet weight (top 20 expansion terms of the top 10 passages) present
//                 (0 for a question the model's first-stage feedback skips, see compute())
//   first_rank    1 / (1 + first-stage rank)
//   bm25_query    BM25 (k1 1.2, b 0.75) of the question's own terms / the best among the candidates
//                 (with feedback on, `bm25` scores the widened query and this the original one)
//   rarest        the largest idf among the query terms the passage holds / the largest of the question's
//                 (1 when it holds the question's most specific word)
//   semantic      cosine of the question's and the passage's vectors in the index's semantic model
//                 (corpus/semantic.h; 0 when the index has none, or either has no vector)
class FeatureExtractor {
 public:
  FeatureExtractor(const Xapian::Database& db, const Xapian::Query& query);

  // Features of mset items [0, n) (n capped at mset.size()), in mset order. `collapse`
  // says whether the mset was collapsed per record (then get_collapse_count is meaningful).
  // `feedback` are the expansion terms the first stage used, if any. Without them, the prf
  // feature takes its own ESet of the top 10 passages when `own_feedback` (a model without
  // first-stage feedback), and is 0 otherwise (a question the model's feedback skips: what
  // the model learnt for prf is the overlap with the first stage's expansion).
  // `collapse_counts`, when given (one per item, in mset order), replace the MSet's collapse
  // counts, which are exact only when the match checked every document and are 0 over remote
  // shards: the searcher passes record_collapse_counts().
  std::vector<Features> compute(const Xapian::MSet& mset, std::size_t n, bool collapse,
                                std::vector<std::pair<std::string, double>> feedback = {},
                                const std::vector<Xapian::doccount>& collapse_counts = {},
                                bool own_feedback = true) const;

  // For a model that gives proximity and bigram weight 0 (medsearch-train --features), the
  // passages' position lists need not be read: both features are then 0. Every feature is
  // computed by default (training needs them all).
  void skip_positions(bool skip) { skip_positions_ = skip; }
  // Likewise the passages' semantic vectors, for a model that gives `semantic` no weight.
  void skip_semantic(bool skip) { skip_semantic_ = skip; }
  // The dimensions of the index's semantic model (0: it has none), for a caller that has read
  // its header already (Searcher::model() does, once per revision); otherwise compute() reads it.
  void semantic_dims(unsigned dims) { semantic_dims_ = dims; }
  // Which of the question's and feedback's terms each passage holds, and how often, come from
  // each term's posting list walked over the passages in id order (a few block reads a term),
  // by default. Over remote shards a posting list arrives whole over the network, so there the
  // passages' term lists are read instead (one round trip each). Both give the same features.
  void use_term_lists(bool use) { use_term_lists_ = use; }

 private:
  // One of the question's terms as the first stage matches it: a word ("Z" + stem), or a
  // synonym group (QueryParser's `a SYNONYM b ...`: "ALS" with XYals, "rilutek" with riluzole,
  // "Lou Gehrig's disease" with XYals), which a passage holds when it holds any single-term
  // member, or every word of a multi-word member (the words of "lou gehrig's disease").
  struct QueryTerm {
    std::vector<std::string> any_of;  // single terms: Z + stem, concept terms, ...
    std::vector<std::string> all_of;  // the Z terms of a multi-word member, if any
    double idf = 0;                   // from the most frequent single-term member
  };
  const Xapian::Database& db_;
  Xapian::Query query_;
  std::vector<QueryTerm> terms_;  // unique, in query order, at most kMaxQueryTerms
  double idf_total_ = 0;
  double idf_max_ = 0;
  double pair_total_ = 0;    // sum over pairs of min idf
  double bigram_total_ = 0;  // sum over consecutive pairs of (idf a + idf b)
  bool skip_positions_ = false;
  bool skip_semantic_ = false;
  std::optional<unsigned> semantic_dims_;
  bool use_term_lists_ = false;
};

}  // namespace medsearch::searcher::rerank
