// Second-stage features and the linear model over them. See rerank.h for the feature list.
#include "searcher/rerank.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <optional>
#include <queue>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "corpus/analysis.h"
#include "corpus/schema.h"
#include "corpus/semantic.h"

namespace medsearch::searcher::rerank {

// The shipped models, searcher/rerank_model.json and rerank_model_lexical.json, compiled in
// (see searcher/CMakeLists.txt).
extern const char* const kBuiltinModelJsonParts[];
extern const std::size_t kBuiltinModelJsonPartCount;
extern const char* const kBuiltinLexicalModelJsonParts[];
extern const std::size_t kBuiltinLexicalModelJsonPartCount;

namespace {

using corpus::ErrorCode;
using corpus::make_error;

constexpr std::size_t kMaxQueryTerms = 32;  // long pasted texts: the first 32 distinct terms
constexpr unsigned kProximityWindow = 8;
constexpr unsigned kBigramGap = 2;  // a dropped stop word may sit between two query words
constexpr Xapian::doccount kFeedbackDocs = 10;
constexpr Xapian::termcount kFeedbackTerms = 20;

// A stemmed, unprefixed term: "Z" + stem, where a stem starts with a lowercase letter or digit
// (prefixed terms such as ZS..., ZXH... have capitals after the Z).
using corpus::semantic::is_body_term;

// The question's terms for the features, in query order: each Z term, and each synonym group
// (OP_SYNONYM) as one term. Terms under every other operator count, as Query::get_terms lists
// them, so a question's words are features whatever its syntax.
struct TermGroup {
  std::vector<std::string> any_of;  // single terms
  std::vector<std::string> all_of;  // the words of one multi-word member
};

// QueryParser's synonym expansion: the question's word or words (a term; the words of a
// multi-word key as an OR; a hyphenated word as a phrase), then the synonym table's single
// terms. Empty for any other shape.
std::optional<TermGroup> synonym_group(const Xapian::Query& q) {
  TermGroup group;
  for (std::size_t i = 0; i < q.get_num_subqueries(); ++i) {
    const Xapian::Query sub = q.get_subquery(i);
    if (sub.get_type() == Xapian::Query::LEAF_TERM) {
      group.any_of.push_back(*sub.get_terms_begin());
      continue;
    }
    const auto type = sub.get_type();
    if (!group.all_of.empty() || sub.get_num_subqueries() < 2 ||
        (type != Xapian::Query::OP_OR && type != Xapian::Query::OP_AND && type != Xapian::Query::OP_PHRASE))
      return std::nullopt;
    for (std::size_t k = 0; k < sub.get_num_subqueries(); ++k) {
      const Xapian::Query word = sub.get_subquery(k);
      if (word.get_type() != Xapian::Query::LEAF_TERM || !is_body_term(*word.get_terms_begin())) return std::nullopt;
      group.all_of.push_back(*word.get_terms_begin());
    }
  }
  if (group.all_of.empty() && std::none_of(group.any_of.begin(), group.any_of.end(), is_body_term)) return std::nullopt;
  return group;
}

void collect_query_terms(const Xapian::Query& q, std::vector<TermGroup>& out) {
  const auto type = q.get_type();
  if (type == Xapian::Query::LEAF_TERM) {
    std::string term = *q.get_terms_begin();
    if (is_body_term(term)) out.push_back({{std::move(term)}, {}});
    return;
  }
  if (type == Xapian::Query::OP_SYNONYM) {
    if (auto group = synonym_group(q)) {
      out.push_back(std::move(*group));
      return;
    }
  }
  for (std::size_t i = 0; i < q.get_num_subqueries(); ++i) collect_query_terms(q.get_subquery(i), out);
}

// Expansion candidates: unprefixed stems that are not stop words (in a small index the ESet
// can rank "and" or "the" high).
class BodyTerms : public Xapian::ExpandDecider {
 public:
  bool operator()(const std::string& term) const override {
    return is_body_term(term) && term.size() > 2 && !corpus::is_stop_word(std::string_view(term).substr(1));
  }
};

// The most passages an expansion term may occur in: Feedback::max_df of the index (no cap for
// 0 or >= 1) and Feedback::max_df_passages (no cap for 0), whichever is lower.
Xapian::doccount max_term_freq(const Xapian::Database& db, const Feedback& feedback) {
  Xapian::doccount most = db.get_doccount();
  if (feedback.max_df > 0 && feedback.max_df < 1)
    most = static_cast<Xapian::doccount>(feedback.max_df * db.get_doccount());
  if (feedback.max_df_passages > 0) most = std::min(most, feedback.max_df_passages);
  return most;
}

// BodyTerms that occur in at most `max_freq` passages (for Xapian's own ESet).
class ExpansionTerms : public Xapian::ExpandDecider {
 public:
  ExpansionTerms(const Xapian::Database& db, Xapian::doccount max_freq) : db_(db), max_freq_(max_freq) {}
  bool operator()(const std::string& term) const override {
    return body_(term) && (max_freq_ >= db_.get_doccount() || db_.get_termfreq(term) <= max_freq_);
  }

 private:
  BodyTerms body_;
  const Xapian::Database& db_;
  Xapian::doccount max_freq_;
};

// Smallest |a - b| over a in x, b in y (both sorted).
unsigned min_distance(const std::vector<Xapian::termpos>& x, const std::vector<Xapian::termpos>& y) {
  unsigned best = ~0u;
  std::size_t i = 0, j = 0;
  while (i < x.size() && j < y.size()) {
    const unsigned d = x[i] > y[j] ? x[i] - y[j] : y[j] - x[i];
    best = std::min(best, d);
    if (x[i] < y[j]) ++i; else ++j;
  }
  return best;
}

// True if some b in y follows some a in x by 1..gap positions.
bool follows_within(const std::vector<Xapian::termpos>& x, const std::vector<Xapian::termpos>& y, unsigned gap) {
  std::size_t j = 0;
  for (Xapian::termpos a : x) {
    while (j < y.size() && y[j] <= a) ++j;
    if (j < y.size() && y[j] - a <= gap) return true;
  }
  return false;
}

}  // namespace

// True if the query is only words (OR of terms and synonyms), as a plain question parses; false
// when the user wrote syntax (a phrase, AND, NOT, +/-, a field) that says exactly what to match.
bool only_words(const Xapian::Query& query) {
  switch (query.get_type()) {
    case Xapian::Query::LEAF_TERM:
    case Xapian::Query::LEAF_MATCH_ALL:
      return true;
    case Xapian::Query::OP_OR:
    case Xapian::Query::OP_SYNONYM:
    case Xapian::Query::OP_SCALE_WEIGHT:
      for (std::size_t i = 0; i < query.get_num_subqueries(); ++i) {
        const Xapian::Query sub = query.get_subquery(i);
        // A multi-word name's words, AND'ed inside its synonym group (searcher.cc): words.
        if (query.get_type() == Xapian::Query::OP_SYNONYM && sub.get_type() == Xapian::Query::OP_AND &&
            only_words(Xapian::Query(Xapian::Query::OP_OR, sub.get_terms_begin(), sub.get_terms_end())))
          continue;
        if (!only_words(sub)) return false;
      }
      return true;
    default:
      return false;
  }
}


const std::array<const char*, kFeatureCount> kFeatureNames = {
    "bm25", "coverage_idf", "coverage", "title_idf", "proximity", "bigram", "passages", "length", "prf", "first_rank",
    "bm25_query", "rarest", "semantic"};

std::size_t feature_index(std::string_view name) {
  return static_cast<std::size_t>(
      std::find_if(kFeatureNames.begin(), kFeatureNames.end(), [name](const char* f) { return name == f; }) -
      kFeatureNames.begin());
}

std::vector<std::pair<std::string, double>> feedback_terms(const Xapian::Database& db, const Xapian::Query& query,
                                                           const Feedback& feedback, bool check_all,
                                                           TermFreqCache* cache, double* best) {
  if (best != nullptr) *best = 0;
  if (!feeds_back(query, feedback)) return {};
  Xapian::Enquire enquire = feedback_enquire(db, query);
  const Xapian::doccount want = feedback.docs + kFeedbackMargin;
  Xapian::MSet top = enquire.get_mset(0, want, check_all ? std::max(db.get_doccount(), want) : want);
  if (best != nullptr) *best = top.get_max_attained();
  return feedback_from(db, enquire, top, feedback, cache);
}

Xapian::Enquire feedback_enquire(const Xapian::Database& db, const Xapian::Query& query) {
  Xapian::Enquire enquire(db);
  enquire.set_query(query);
  enquire.set_weighting_scheme(Xapian::BM25Weight());
  enquire.set_sort_by_relevance_then_value(corpus::schema::kSlotPassageId, false);
  return enquire;
}

void sort_ranked(std::vector<RankedHit>& hits) {
  std::stable_sort(hits.begin(), hits.end(), [](const RankedHit& a, const RankedHit& b) { return a.key > b.key; });
  for (std::size_t begin = 0; begin < hits.size();) {
    std::size_t end = begin + 1;
    while (end < hits.size() && hits[end].key == hits[begin].key) ++end;
    if (end - begin > 1) {
      for (std::size_t k = begin; k < end; ++k)
        if (hits[k].passage_id.empty())
          hits[k].passage_id = hits[k].it.get_document().get_value(corpus::schema::kSlotPassageId);
      std::stable_sort(hits.begin() + static_cast<std::ptrdiff_t>(begin), hits.begin() + static_cast<std::ptrdiff_t>(end),
                       [](const RankedHit& a, const RankedHit& b) { return a.passage_id < b.passage_id; });
    }
    begin = end;
  }
}

Xapian::doccount TermFreqCache::get(const Xapian::Database& db, const std::string& term) {
  auto it = freqs_.find(term);
  if (it != freqs_.end()) return it->second;
  if (freqs_.size() >= kMaxTerms) freqs_.clear();
  const Xapian::doccount freq = db.get_termfreq(term);
  freqs_.emplace(term, freq);
  return freq;
}

namespace {

// Xapian 1.4's ESet for `rset` with the default expansion scheme (TradEWeight, k = 1) and
// `decider`, the terms of `query` left out, best first, ties by term, at most `max_terms`
// (Enquire::get_eset's order), with term frequencies from `cache`. For each candidate term t of the relevant documents:
//   multiplier = sum over relevant documents d holding t of (k + 1) wdf / (k len(d) / avlen + wdf)
//   weight = multiplier * log((r + 0.5)(N - n - (R - r) + 0.5) / ((n - r + 0.5)(R - r + 0.5)))
// with r of the R relevant documents holding t, n documents of N holding it; terms of weight
// <= 0 are left out. Only the order in which the sum adds its documents differs from Xapian's
// (last-bit differences, below the 1e-9 the caller rounds weights to).
std::vector<std::pair<std::string, double>> eset_of(const Xapian::Database& db, const std::vector<Xapian::docid>& rset,
                                                    std::size_t max_terms, const Xapian::ExpandDecider& decider,
                                                    Xapian::doccount max_freq, const Xapian::Query& query,
                                                    TermFreqCache& cache) {
  constexpr double k = 1.0;
  const double avlen = db.get_avlength();
  // As get_eset without INCLUDE_QUERY_TERMS: the query's own terms are not candidates.
  const std::unordered_set<std::string> asked(query.get_unique_terms_begin(), query.get_unique_terms_end());
  const double big_n = db.get_doccount();
  const double big_r = static_cast<double>(rset.size());
  // The relevant documents' term lists merged in term order (each is sorted): every distinct
  // term once, its documents in rset order as Xapian adds them, and its frequency looked up in
  // term order, where neighbouring terms mostly share the B-tree block just read. (A std::map
  // of every term of the ten lists cost as much again as reading them.)
  struct Head {
    Xapian::TermIterator it;
    Xapian::TermIterator end;
    std::string term;
    double length_ratio = 0;  // k * len(d) / avlen
  };
  std::vector<Head> heads;
  heads.reserve(rset.size());
  for (Xapian::docid did : rset) {
    Head h{db.termlist_begin(did), db.termlist_end(did), {}, k * db.get_doclength(did) / avlen};
    if (h.it == h.end) continue;
    h.term = *h.it;
    heads.push_back(std::move(h));
  }
  // First every candidate's r and multiplier, from the term lists alone.
  struct Candidate {
    std::string term;
    Xapian::doccount r = 0;
    double multiplier = 0;
  };
  const auto log_factor = [big_n, big_r](double rr, double n) {
    const double reldocs_without_term = big_r - rr;
    const double num = (rr + 0.5) * (big_n - n - reldocs_without_term + 0.5);
    const double denom = (n - rr + 0.5) * (reldocs_without_term + 0.5);
    return std::log(num / denom);
  };
  std::vector<Candidate> candidates;
  // (bound, candidate): a term's weight were no other document holding it (n = r), the most
  // it can have.
  std::vector<std::pair<double, std::uint32_t>> by_bound;
  std::vector<double> bound_factor;  // log_factor(r, r) for each r seen: the bound is multiplier * it
  std::string term;
  while (!heads.empty()) {
    const std::string* least = &heads.front().term;
    for (const Head& h : heads)
      if (h.term < *least) least = &h.term;
    term = *least;
    const bool candidate = asked.count(term) == 0 && decider(term);
    Xapian::doccount r = 0;
    double multiplier = 0;
    for (std::size_t i = 0; i < heads.size();) {
      Head& h = heads[i];
      if (h.term != term) {
        ++i;
        continue;
      }
      if (candidate) {
        Xapian::termcount wdf = h.it.get_wdf();
        if (wdf == 0) wdf = 1;
        ++r;
        multiplier += (k + 1) * wdf / (h.length_ratio + wdf);
      }
      if (++h.it == h.end) {
        heads.erase(heads.begin() + static_cast<std::ptrdiff_t>(i));  // keeps rset order
        continue;
      }
      h.term = *h.it;
      ++i;
    }
    if (!candidate) continue;
    while (bound_factor.size() <= r) {
      const auto rr = static_cast<double>(bound_factor.size());
      bound_factor.push_back(log_factor(rr, rr));
    }
    const double bound = multiplier * bound_factor[r];
    if (bound <= 0) continue;  // no frequency can make its weight positive
    by_bound.emplace_back(bound, static_cast<std::uint32_t>(candidates.size()));
    candidates.push_back({std::move(term), r, multiplier});
    term.clear();
  }
  // Then the exact weights, the largest bounds first, until no bound left can reach the
  // `max_terms`-th weight found: the weight falls as the term's frequency n grows (n >= r), so
  // a term whose bound is below it cannot be among the best. The result is the one the
  // exhaustive loop gives, for a frequency lookup (a hash probe or a B-tree read) of a fraction
  // of the candidates: most words occur in one of the ten passages, with bounds below the
  // words they share.
  std::sort(by_bound.begin(), by_bound.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::pair<std::string, double>> out;
  std::priority_queue<double, std::vector<double>, std::greater<>> best;  // the max_terms largest weights
  for (const auto& [bound, i] : by_bound) {
    // The margin keeps rounding from ever cutting a term that ties the last weight kept.
    if (max_terms > 0 && best.size() >= max_terms && bound * (1 + 1e-9) < best.top()) break;
    Candidate& c = candidates[i];
    const Xapian::doccount freq = cache.get(db, c.term);
    if (freq > max_freq) continue;  // as ExpansionTerms
    const double weight = c.multiplier * log_factor(c.r, freq);
    if (weight <= 0) continue;
    out.emplace_back(std::move(c.term), weight);
    best.push(weight);
    if (best.size() > max_terms) best.pop();
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (out.size() > max_terms) out.resize(max_terms);
  return out;
}

}  // namespace

std::vector<std::pair<std::string, double>> feedback_from(const Xapian::Database& db, const Xapian::Enquire& enquire,
                                                          const Xapian::MSet& top, const Feedback& feedback,
                                                          TermFreqCache* cache) {
  std::vector<std::pair<std::string, double>> out;
  if (feedback.docs == 0 || feedback.terms == 0 || top.empty()) return out;
  // The top passages and the expansion terms are chosen on scores rounded to 1e-9, ties broken
  // by passage id and by term, so the expansion never depends on how the index is split.
  std::vector<RankedHit> ranked;
  for (auto it = top.begin(); it != top.end(); ++it) ranked.push_back({std::llround(it.get_weight() * 1e9), {}, it});
  sort_ranked(ranked);
  std::vector<Xapian::docid> relevant;
  for (std::size_t i = 0; i < ranked.size() && i < feedback.docs; ++i) relevant.push_back(*ranked[i].it);
  std::sort(relevant.begin(), relevant.end());
  const Xapian::doccount max_freq = max_term_freq(db, feedback);
  std::vector<std::pair<std::string, double>> eset;
  if (cache != nullptr) {
    eset = eset_of(db, relevant, feedback.terms + 10, BodyTerms(), max_freq, enquire.get_query(), *cache);
  } else {
    Xapian::RSet rset;
    for (Xapian::docid did : relevant) rset.add_document(did);
    ExpansionTerms decider(db, max_freq);
    Xapian::ESet x = enquire.get_eset(feedback.terms + 10, rset, Xapian::Enquire::USE_EXACT_TERMFREQ, &decider);
    for (auto e = x.begin(); e != x.end(); ++e) eset.emplace_back(*e, e.get_weight());
  }
  std::vector<std::tuple<long long, std::string, double>> terms;
  for (const auto& [term, weight] : eset) terms.emplace_back(-std::llround(weight * 1e9), term, weight);
  std::sort(terms.begin(), terms.end());
  for (std::size_t i = 0; i < terms.size() && i < feedback.terms; ++i)
    out.emplace_back(std::get<1>(terms[i]), static_cast<double>(-std::get<0>(terms[i])) / 1e9);
  return out;
}

namespace {

std::size_t distinct_words(const Xapian::Query& query) {
  std::size_t n = 0;
  for (auto t = query.get_unique_terms_begin(); t != query.get_unique_terms_end(); ++t)
    if (is_body_term(*t)) ++n;  // get_unique_terms is already distinct
  return n;
}

}  // namespace

bool feeds_back(const Xapian::Query& query, const Feedback& feedback) {
  if (feedback.docs == 0 || feedback.terms == 0) return false;
  return feedback.max_words == 0 || distinct_words(query) <= feedback.max_words;
}

bool widens(const Xapian::Query& query, const Feedback& feedback) {
  if (feedback.alpha <= 0 || !only_words(query)) return false;
  return distinct_words(query) >= feedback.widen_min_terms;
}

Xapian::Query expand(const Xapian::Query& query, const std::vector<std::pair<std::string, double>>& terms,
                     const Feedback& feedback) {
  const double alpha = feedback.alpha;
  if (terms.empty() || alpha <= 0) return query;
  const bool widen = widens(query, feedback);
  const double best = terms.front().second > 0 ? terms.front().second : 1;
  std::vector<Xapian::Query> parts;
  for (const auto& [term, weight] : terms)
    parts.emplace_back(Xapian::Query::OP_SCALE_WEIGHT, Xapian::Query(term), alpha * weight / best);
  if (!widen)
    return Xapian::Query(Xapian::Query::OP_AND_MAYBE, query, Xapian::Query(Xapian::Query::OP_OR, parts.begin(), parts.end()));
  // OR, as RM3 does, for questions of several words: passages that share no word with the
  // question but many with its best matches come in below those that match it (measured:
  // AND_MAYBE, which lets nothing new in, loses most of the gain on NFCorpus, 0.3053 against
  // 0.3162 cross-validated; docs/RELEVANCE.md).
  // One flat OR of the question's terms and each scaled expansion term rather than the
  // question OR a scaled OR of the terms: the same scores, but Xapian builds one tree of its
  // OR over all the posting lists (paired by frequency) instead of a subtree for the
  // expansion, and its pruning skips more of them: 5.8% fewer instructions a search at 1M
  // passages, 2.8% at 100k (docs/PERFORMANCE.md).
  parts.insert(parts.begin(), query);
  return Xapian::Query(Xapian::Query::OP_OR, parts.begin(), parts.end());
}

Model Model::identity() {
  Model m;
  m.weights[0] = 1.0;
  m.description = "first stage only";
  return m;
}

namespace {

Model parse_builtin(const char* const* parts, std::size_t count) {
  std::string text;
  for (std::size_t i = 0; i < count; ++i) text += parts[i];
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  auto m = parsed.is_discarded() ? corpus::Result<Model>(make_error(ErrorCode::parse, "not JSON")) : Model::from_json(parsed);
  // The files are checked by tests; a broken one must not take searching down with it.
  return m.ok() ? *m : Model::identity();
}

}  // namespace

const Model& Model::builtin() {
  static const Model model = parse_builtin(kBuiltinModelJsonParts, kBuiltinModelJsonPartCount);
  return model;
}

const Model& Model::builtin_lexical() {
  static const Model model = parse_builtin(kBuiltinLexicalModelJsonParts, kBuiltinLexicalModelJsonPartCount);
  return model;
}

corpus::Result<Model> Model::from_json(const nlohmann::json& j) {
  if (!j.is_object()) return make_error(ErrorCode::parse, "a rerank model is a JSON object");
  Model m;
  if (j.contains("description") && j["description"].is_string()) m.description = j["description"].get<std::string>();
  if (j.contains("depth")) {
    if (!j["depth"].is_number_integer() || j["depth"].get<int>() < 1 || j["depth"].get<int>() > 1000)
      return make_error(ErrorCode::parse, "depth must be a whole number from 1 to 1000", "depth");
    m.depth = j["depth"].get<int>();
  }
  if (j.contains("feedback") && !j["feedback"].is_null()) {
    const auto& fb = j["feedback"];
    // A whole number, not negative (a parsed file gives unsigned; a json built in code, signed).
    auto whole = [&fb](const char* key) {
      if (!fb.contains(key)) return true;
      const auto& v = fb[key];
      return v.is_number_unsigned() || (v.is_number_integer() && v.get<long long>() >= 0);
    };
    if (!fb.is_object() || !whole("docs") || !whole("terms") || !fb.value("alpha", nlohmann::json(0.3)).is_number())
      return make_error(ErrorCode::parse, "feedback must be {docs, terms, alpha} with whole docs and terms", "feedback");
    m.feedback.docs = std::min(fb.value("docs", 0u), 100u);
    m.feedback.terms = std::min(fb.value("terms", 20u), 100u);
    m.feedback.alpha = fb.value("alpha", 0.3);
    m.feedback.widen_min_terms = std::min(fb.value("widen_min_terms", 3u), 1000u);
    if (!whole("max_words"))
      return make_error(ErrorCode::parse, "feedback.max_words must be a whole number (0: no limit)", "feedback");
    m.feedback.max_words = static_cast<unsigned>(std::min(fb.value("max_words", 0ull), 1000ull));  // 1000: no limit in practice
    if (fb.contains("max_df") && (!fb["max_df"].is_number() || fb["max_df"].get<double>() < 0 ||
                                  fb["max_df"].get<double>() > 1))
      return make_error(ErrorCode::parse, "feedback.max_df must be a number from 0 to 1 (0: no cap)", "feedback");
    m.feedback.max_df = fb.value("max_df", 0.0);
    if (!whole("max_df_passages") || fb.value("max_df_passages", 0ull) > 0xffffffffull)
      return make_error(ErrorCode::parse, "feedback.max_df_passages must be a whole number of passages (0: no cap)",
                        "feedback");
    m.feedback.max_df_passages = static_cast<Xapian::doccount>(fb.value("max_df_passages", 0ull));
  }
  if (!j.contains("weights") || !j["weights"].is_object())
    return make_error(ErrorCode::parse, "weights must be an object of feature name -> number", "weights");
  for (const auto& [name, value] : j["weights"].items()) {
    const std::size_t index = feature_index(name);
    if (index == kFeatureCount) return make_error(ErrorCode::parse, "unknown feature '" + name + "'", "weights");
    if (!value.is_number() || !std::isfinite(value.get<double>()))
      return make_error(ErrorCode::parse, "weight of '" + name + "' is not a finite number", "weights");
    m.weights[index] = value.get<double>();
  }
  if (j.contains("trees") && !j["trees"].is_null()) {
    // Checked so that a walk through any tree of the file ends at a leaf inside it.
    constexpr std::size_t kMaxTrees = 10000, kMaxNodes = 1 << 16;
    const auto& jt = j["trees"];
    if (!jt.is_array() || jt.size() > kMaxTrees)
      return make_error(ErrorCode::parse, "trees must be an array of at most 10000 trees", "trees");
    std::vector<Tree> trees;
    for (std::size_t t = 0; t < jt.size(); ++t) {
      const std::string where = "tree " + std::to_string(t) + ": ";
      const auto& node = jt[t];
      auto numbers = [&node](const char* key) {
        return node.is_object() && node.contains(key) && node[key].is_array() && node[key].size() <= kMaxNodes &&
               std::all_of(node[key].begin(), node[key].end(), [](const nlohmann::json& v) {
                 return v.is_number() && std::isfinite(v.get<double>());
               });
      };
      if (!numbers("feature") || !numbers("threshold") || !numbers("left") || !numbers("right") || !numbers("value"))
        return make_error(ErrorCode::parse, where + "needs arrays feature, threshold, left, right and value of numbers",
                          "trees");
      Tree tree;
      const std::size_t n = node["feature"].size();
      if (n == 0 || node["threshold"].size() != n || node["left"].size() != n || node["right"].size() != n ||
          node["value"].size() != n)
        return make_error(ErrorCode::parse, where + "its arrays must be as long as each other, and not empty", "trees");
      for (std::size_t i = 0; i < n; ++i) {
        const double feature = node["feature"][i].get<double>(), left = node["left"][i].get<double>(),
                     right = node["right"][i].get<double>();
        const bool leaf = feature < 0;
        if (feature != std::floor(feature) || feature >= static_cast<double>(kFeatureCount) || (leaf && feature != -1))
          return make_error(ErrorCode::parse, where + "node " + std::to_string(i) + ": feature must be -1 (a leaf) or 0 to " +
                                                  std::to_string(kFeatureCount - 1),
                            "trees");
        auto child = [i, n](double c) { return c == std::floor(c) && c > static_cast<double>(i) && c < static_cast<double>(n); };
        if (!leaf && (!child(left) || !child(right)))
          return make_error(ErrorCode::parse, where + "node " + std::to_string(i) + ": children must be later nodes of the tree",
                            "trees");
        tree.feature.push_back(static_cast<int>(feature));
        tree.threshold.push_back(node["threshold"][i].get<double>());
        tree.left.push_back(leaf ? 0 : static_cast<int>(left));
        tree.right.push_back(leaf ? 0 : static_cast<int>(right));
        tree.value.push_back(node["value"][i].get<double>());
      }
      trees.push_back(std::move(tree));
    }
    m.set_trees(std::move(trees));
  }
  return m;
}

corpus::Result<Model> Model::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::unavailable, path + ": cannot open the rerank model");
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) return make_error(ErrorCode::parse, path + ": the rerank model is not valid JSON");
  auto model = from_json(j);
  if (!model.ok()) return make_error(ErrorCode::parse, path + ": " + model.error().message, model.error().param);
  return model;
}

nlohmann::json Model::to_json() const {
  nlohmann::json named = nlohmann::json::object();
  for (std::size_t i = 0; i < kFeatureCount; ++i) named[kFeatureNames[i]] = weights_rounded(i);
  nlohmann::json fb = nullptr;
  if (feedback.docs > 0)
    fb = {{"docs", feedback.docs}, {"terms", feedback.terms}, {"alpha", feedback.alpha},
          {"widen_min_terms", feedback.widen_min_terms}, {"max_words", feedback.max_words}, {"max_df", feedback.max_df}};
  // Only when set, so that models written without it (the shipped one) read back unchanged.
  if (feedback.docs > 0 && feedback.max_df_passages > 0) fb["max_df_passages"] = feedback.max_df_passages;
  nlohmann::json j = {{"description", description}, {"depth", depth}, {"feedback", fb}, {"weights", named}};
  if (!trees_.empty()) {
    nlohmann::json trees = nlohmann::json::array();
    for (const Tree& t : trees_)
      trees.push_back({{"feature", t.feature}, {"threshold", t.threshold}, {"left", t.left}, {"right", t.right}, {"value", t.value}});
    j["trees"] = std::move(trees);
  }
  return j;
}

double Model::weights_rounded(std::size_t i) const { return std::round(weights[i] * 1e6) / 1e6; }

double Model::leaf_of(std::uint32_t root, const Features& f) const {
  const Node* node = &nodes_[root];
  while (node->feature >= 0) node = &nodes_[f[static_cast<std::size_t>(node->feature)] < node->split ? node->left : node->right];
  return node->split;
}

void Model::set_trees(std::vector<Tree> trees) {
  trees_ = std::move(trees);
  nodes_.clear();
  roots_.clear();
  for (const Tree& t : trees_) {
    const auto base = static_cast<std::uint32_t>(nodes_.size());
    roots_.push_back(base);
    for (std::size_t i = 0; i < t.feature.size(); ++i) {
      const bool leaf = t.feature[i] < 0;
      nodes_.push_back({leaf ? t.value[i] : t.threshold[i], t.feature[i], leaf ? 0 : base + static_cast<std::uint32_t>(t.left[i]),
                        leaf ? 0 : base + static_cast<std::uint32_t>(t.right[i])});
    }
  }
  split_on_.fill(false);
  for (const Tree& t : trees_)
    for (int k : t.feature)
      if (k >= 0) split_on_[static_cast<std::size_t>(k)] = true;
}

double Model::score(const Features& f) const {
  double s = 0;
  for (std::size_t i = 0; i < kFeatureCount; ++i) s += weights[i] * f[i];
  for (const std::uint32_t root : roots_) s += leaf_of(root, f);
  return s;
}

std::vector<double> Model::score_all(const std::vector<Features>& features, std::size_t n) const {
  n = std::min(n, features.size());
  std::vector<double> s(n, 0.0);
  for (std::size_t c = 0; c < n; ++c)
    for (std::size_t i = 0; i < kFeatureCount; ++i) s[c] += weights[i] * features[c][i];
  for (const std::uint32_t root : roots_)
    for (std::size_t c = 0; c < n; ++c) s[c] += leaf_of(root, features[c]);
  return s;
}

FeatureExtractor::FeatureExtractor(const Xapian::Database& db, const Xapian::Query& query) : db_(db), query_(query) {
  const double n_docs = static_cast<double>(db.get_doccount());
  std::unordered_set<std::string> seen;
  std::vector<TermGroup> groups;
  collect_query_terms(query, groups);
  for (TermGroup& g : groups) {
    if (terms_.size() >= kMaxQueryTerms) break;
    QueryTerm q;
    q.any_of = std::move(g.any_of);
    q.all_of = std::move(g.all_of);
    std::string key;  // the term, or the group's members: each once
    for (const auto& t : q.any_of) key.append(t).push_back('\n');
    key.push_back('\t');
    for (const auto& t : q.all_of) key.append(t).push_back('\n');
    if (!seen.insert(key).second) continue;
    // A group is as frequent as its most frequent single term (at least); a multi-word member
    // alone, as its rarest word (at most).
    Xapian::doccount df = 0;
    for (const auto& t : q.any_of) df = std::max(df, db.get_termfreq(t));
    if (df == 0 && !q.all_of.empty()) {
      df = db.get_termfreq(q.all_of.front());
      for (const auto& t : q.all_of) df = std::min(df, db.get_termfreq(t));
    }
    if (df == 0) continue;  // matches nothing anywhere: tells no candidate apart
    const double d = static_cast<double>(df);
    q.idf = std::log(1.0 + (n_docs - d + 0.5) / (d + 0.5));
    terms_.push_back(std::move(q));
  }
  for (std::size_t i = 0; i < terms_.size(); ++i) {
    idf_total_ += terms_[i].idf;
    idf_max_ = std::max(idf_max_, terms_[i].idf);
    for (std::size_t j = i + 1; j < terms_.size(); ++j) pair_total_ += std::min(terms_[i].idf, terms_[j].idf);
    if (i + 1 < terms_.size()) bigram_total_ += terms_[i].idf + terms_[i + 1].idf;
  }
}

namespace {

// Appends the terms of `q` when `q` matches exactly the documents that hold at least one of
// them (OR, SYNONYM, MAX and scaled terms, the left side of AND_MAYBE: what a parsed question
// and its feedback widening are made of); false for any other shape (AND, phrases, NOT,
// filters, value ranges, wildcards, ELITE_SET, match-all).
bool collect_or_terms(const Xapian::Query& q, std::vector<std::string>& terms) {
  switch (q.get_type()) {
    case Xapian::Query::LEAF_TERM:
      terms.push_back(*q.get_terms_begin());
      return true;
    case Xapian::Query::LEAF_MATCH_NOTHING:
      return true;
    case Xapian::Query::OP_OR:
    case Xapian::Query::OP_SYNONYM:
    case Xapian::Query::OP_MAX:
      for (std::size_t i = 0; i < q.get_num_subqueries(); ++i)
        if (!collect_or_terms(q.get_subquery(i), terms)) return false;
      return true;
    case Xapian::Query::OP_SCALE_WEIGHT:
    case Xapian::Query::OP_AND_MAYBE:
      return q.get_num_subqueries() > 0 && collect_or_terms(q.get_subquery(0), terms);
    default:
      return false;
  }
}

}  // namespace

std::vector<Xapian::doccount> record_collapse_counts(const Xapian::Database& db, const Xapian::Query& query,
                                                     const Xapian::MSet& mset, std::size_t n, int per_record,
                                                     bool local) {
  // Each of the n records' passages, from its XR posting list (a few entries each): which
  // record a matching passage belongs to is then a lookup, not a document value read.
  std::vector<std::string> ids;
  std::vector<Xapian::Query> filter;
  std::unordered_map<Xapian::docid, std::size_t> record_of;  // passage -> index into ids
  std::unordered_set<Xapian::docid> shown;                   // the n items: they match
  std::size_t i = 0;
  for (auto it = mset.begin(); it != mset.end() && i < n; ++it, ++i) {
    shown.insert(*it);
    // The mset was collapsed on the record id: its collapse key is the id, with no value read.
    std::string id = corpus::schema::term(corpus::schema::kPrefixRecordId, it.get_collapse_key());
    for (auto p = db.postlist_begin(id); p != db.postlist_end(id); ++p) record_of.emplace(*p, ids.size());
    filter.emplace_back(id);
    ids.push_back(std::move(id));
  }
  std::vector<Xapian::doccount> matching(ids.size(), 0);
  std::vector<std::string> terms;
  if (record_of.empty()) {
    // nothing to count
  } else if (local && collect_or_terms(query, terms)) {
    // A query of alternatives matches a passage holding any of its terms: look in the few
    // other passages' term lists instead of running a second match. On a local index that is
    // a quarter of the block reads (which cost a system call each); over remote shards every
    // term list would be a round trip, so they take the query below.
    std::sort(terms.begin(), terms.end());
    terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
    for (const auto& [did, record] : record_of) {
      bool matches = shown.count(did) > 0;
      if (!matches) {
        auto tl = db.termlist_begin(did);
        const auto tl_end = db.termlist_end(did);
        for (const std::string& term : terms) {
          tl.skip_to(term);
          if (tl == tl_end) break;
          if (*tl == term) {
            matches = true;
            break;
          }
        }
      }
      if (matches) ++matching[record];
    }
  } else {
    Xapian::Enquire enquire(db);
    enquire.set_query(Xapian::Query(Xapian::Query::OP_FILTER, query, Xapian::Query(Xapian::Query::OP_OR, filter.begin(), filter.end())));
    enquire.set_weighting_scheme(Xapian::BoolWeight());
    enquire.set_docid_order(Xapian::Enquire::DONT_CARE);
    // Every passage of those records at most.
    const auto bound = static_cast<Xapian::doccount>(record_of.size());
    Xapian::MSet all = enquire.get_mset(0, bound, bound);
    for (auto it = all.begin(); it != all.end(); ++it) {
      auto found = record_of.find(*it);
      if (found != record_of.end()) ++matching[found->second];
    }
  }
  const auto kept = static_cast<Xapian::doccount>(std::max(per_record, 0));
  std::vector<Xapian::doccount> out;
  for (Xapian::doccount count : matching) out.push_back(count > kept ? count - kept : 0);
  return out;
}

std::vector<Features> FeatureExtractor::compute(const Xapian::MSet& mset, std::size_t n, bool collapse,
                                                std::vector<std::pair<std::string, double>> feedback,
                                                const std::vector<Xapian::doccount>& collapse_counts,
                                                bool own_feedback) const {
  n = std::min<std::size_t>(n, mset.size());
  std::vector<Features> out(n);
  if (n == 0) return out;

  // Pseudo-relevance feedback: the ESet of the top passages.
  double feedback_total = 0;
  if (feedback.empty() && own_feedback) {
    Xapian::RSet rset;
    Xapian::doccount k = 0;
    for (auto it = mset.begin(); it != mset.end() && k < kFeedbackDocs; ++it, ++k) rset.add_document(*it);
    Xapian::Enquire enquire(db_);
    enquire.set_query(query_);
    BodyTerms decider;
    Xapian::ESet eset = enquire.get_eset(kFeedbackTerms, rset, Xapian::Enquire::USE_EXACT_TERMFREQ, &decider);
    for (auto e = eset.begin(); e != eset.end(); ++e) feedback.emplace_back(*e, e.get_weight());
  }
  for (const auto& fb : feedback) feedback_total += fb.second;

  // Every term to look up in a passage's term list, sorted, with what it stands for: a member
  // of a query term (its body term, or the title copy "ZS" + stem of a Z member), or feedback
  // term `index`.
  // Members in term order, any_of then all_of: member m is member_terms[m] of terms_[member_of[m]].
  std::vector<std::size_t> member_of;
  std::vector<std::string> member_terms;
  for (std::size_t i = 0; i < terms_.size(); ++i) {
    for (const auto* list : {&terms_[i].any_of, &terms_[i].all_of}) {
      for (const auto& t : *list) {
        member_of.push_back(i);
        member_terms.push_back(t);
      }
    }
  }
  enum class Kind { body, title, expansion };
  struct Lookup {
    std::string term;
    Kind kind;
    std::size_t index;  // into member_terms, or into feedback
  };
  std::vector<Lookup> lookups;
  for (std::size_t m = 0; m < member_terms.size(); ++m) {
    lookups.push_back({member_terms[m], Kind::body, m});
    if (is_body_term(member_terms[m])) lookups.push_back({"ZS" + member_terms[m].substr(1), Kind::title, m});
  }
  for (std::size_t i = 0; i < feedback.size(); ++i) lookups.push_back({feedback[i].first, Kind::expansion, i});
  std::sort(lookups.begin(), lookups.end(), [](const Lookup& a, const Lookup& b) { return a.term < b.term; });

  const double best = mset.begin().get_weight();
  const double average_length = std::max(1.0, db_.get_avlength());
  // Per member: in the passage's body (with its wdf), in the record's title.
  std::vector<char> member_body(member_terms.size()), member_title(member_terms.size());
  std::vector<Xapian::termcount> member_wdf(member_terms.size());
  std::vector<char> in_body(terms_.size()), in_title(terms_.size());
  std::vector<Xapian::termcount> wdf(terms_.size());
  std::vector<double> bm25_query(n);
  std::vector<std::vector<Xapian::termpos>> positions(terms_.size());

  // The n items in document id order: their term lists, positions and lengths are keyed by
  // document id, and neighbouring ids share B-tree blocks (each block read is a system call).
  std::vector<std::pair<Xapian::MSetIterator, std::size_t>> items;
  {
    std::size_t r = 0;
    for (auto it = mset.begin(); it != mset.end() && r < n; ++it, ++r) items.emplace_back(it, r);
  }
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
  // Which lookup terms each item holds, with their wdf: item k (in id order), lookup l at
  // [k * lookups.size() + l]. From each term's posting list walked over the items in id
  // order, or (use_term_lists_) from each item's term list, walked over the sorted terms.
  const std::size_t width = lookups.size();
  std::vector<char> holds(items.size() * width, 0);
  std::vector<Xapian::termcount> holds_wdf(items.size() * width, 0);
  if (use_term_lists_) {
    for (std::size_t k = 0; k < items.size(); ++k) {
      const Xapian::docid did = *items[k].first;
      auto tl = db_.termlist_begin(did);
      const auto tl_end = db_.termlist_end(did);
      for (std::size_t l = 0; l < width && tl != tl_end; ++l) {
        tl.skip_to(lookups[l].term);
        if (tl == tl_end || *tl != lookups[l].term) continue;
        holds[k * width + l] = 1;
        holds_wdf[k * width + l] = tl.get_wdf();
      }
    }
  } else {
    for (std::size_t l = 0; l < width; ++l) {
      if (l > 0 && lookups[l].term == lookups[l - 1].term) {  // the same term again: copy
        for (std::size_t k = 0; k < items.size(); ++k) {
          holds[k * width + l] = holds[k * width + l - 1];
          holds_wdf[k * width + l] = holds_wdf[k * width + l - 1];
        }
        continue;
      }
      auto pl = db_.postlist_begin(lookups[l].term);
      const auto pl_end = db_.postlist_end(lookups[l].term);
      for (std::size_t k = 0; k < items.size() && pl != pl_end; ++k) {
        const Xapian::docid did = *items[k].first;
        pl.skip_to(did);
        if (pl == pl_end || *pl != did) continue;
        holds[k * width + l] = 1;
        holds_wdf[k * width + l] = pl.get_wdf();
      }
    }
  }

  // The semantic model's cosines: the question's vector from its words' term vectors, each
  // passage's from its value, read in document id order.
  std::vector<double> semantic(items.size(), 0.0);
  const unsigned dims = skip_semantic_  ? 0
                        : semantic_dims_ ? *semantic_dims_
                                         : corpus::semantic::read_info(db_).value_or(corpus::semantic::ModelInfo{}).dims;
  if (dims > 0) {
    std::vector<std::pair<std::string, double>> words;
    for (const auto& t : member_terms)
      if (is_body_term(t) && std::none_of(words.begin(), words.end(), [&t](const auto& w) { return w.first == t; }))
        words.emplace_back(t, 1.0);
    corpus::semantic::Projector projector(db_, dims);
    const std::string question = projector.project(words);
    if (!question.empty()) {
      auto v = db_.valuestream_begin(corpus::schema::kSlotSemantic);
      const auto v_end = db_.valuestream_end(corpus::schema::kSlotSemantic);
      for (std::size_t k = 0; k < items.size() && v != v_end; ++k) {
        const Xapian::docid did = *items[k].first;
        v.skip_to(did);
        if (v != v_end && v.get_docid() == did) semantic[k] = corpus::semantic::cosine(question, *v);
      }
    }
  }

  for (std::size_t item = 0; item < items.size(); ++item) {
    const auto& [it, rank] = items[item];
    const Xapian::docid did = *it;
    Features& f = out[rank];
    std::fill(member_body.begin(), member_body.end(), 0);
    std::fill(member_title.begin(), member_title.end(), 0);
    double feedback_present = 0;
    for (std::size_t l = 0; l < width; ++l) {
      if (!holds[item * width + l]) continue;
      const Lookup& look = lookups[l];
      if (look.kind == Kind::body) {
        member_body[look.index] = 1;
        member_wdf[look.index] = holds_wdf[item * width + l];
      } else if (look.kind == Kind::title) {
        member_title[look.index] = 1;
      } else {
        feedback_present += feedback[look.index].second;
      }
    }
    // A term is in the body when a single-term member is, or every word of its multi-word
    // member; its wdf is their sum (the multi-word member counting as often as its rarest word).
    std::fill(in_body.begin(), in_body.end(), 0);
    std::fill(in_title.begin(), in_title.end(), 0);
    std::fill(wdf.begin(), wdf.end(), 0);
    {
      std::size_t m = 0;
      for (std::size_t i = 0; i < terms_.size(); ++i) {
        for (std::size_t k = 0; k < terms_[i].any_of.size(); ++k, ++m) {
          if (member_body[m]) {
            in_body[i] = 1;
            wdf[i] += member_wdf[m];
          }
          if (member_title[m]) in_title[i] = 1;
        }
        if (!terms_[i].all_of.empty()) {
          bool body = true, title = true;
          Xapian::termcount least = 0;
          for (std::size_t k = 0; k < terms_[i].all_of.size(); ++k, ++m) {
            body = body && member_body[m];
            title = title && member_title[m];
            if (member_body[m]) least = k == 0 ? member_wdf[m] : std::min(least, member_wdf[m]);
          }
          if (body) {
            in_body[i] = 1;
            wdf[i] += least;
          }
          if (title) in_title[i] = 1;
        }
      }
    }

    const double doclen = static_cast<double>(db_.get_doclength(did));
    double coverage_idf = 0, title_idf = 0, bm25 = 0, rarest = 0;
    std::size_t covered = 0;
    for (std::size_t i = 0; i < terms_.size(); ++i) {
      positions[i].clear();
      if (in_body[i]) {
        coverage_idf += terms_[i].idf;
        rarest = std::max(rarest, terms_[i].idf);
        ++covered;
        const double tf = static_cast<double>(wdf[i]);
        bm25 += terms_[i].idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * doclen / average_length));
      }
      if (in_title[i]) title_idf += terms_[i].idf;
    }
    if (!skip_positions_) {
      // Where each term occurs: the positions of its members found in the body (concept
      // terms have none).
      for (std::size_t m = 0; m < member_terms.size(); ++m) {
        if (!member_body[m] || !in_body[member_of[m]]) continue;
        auto& into = positions[member_of[m]];
        for (auto p = db_.positionlist_begin(did, member_terms[m]); p != db_.positionlist_end(did, member_terms[m]); ++p)
          into.push_back(*p);
      }
      for (auto& p : positions) {
        std::sort(p.begin(), p.end());
        p.erase(std::unique(p.begin(), p.end()), p.end());
      }
    }
    double proximity = 0, bigram = 0;
    for (std::size_t i = 0; i < terms_.size(); ++i) {
      if (positions[i].empty()) continue;
      for (std::size_t j = i + 1; j < terms_.size(); ++j) {
        if (positions[j].empty()) continue;
        if (min_distance(positions[i], positions[j]) <= kProximityWindow)
          proximity += std::min(terms_[i].idf, terms_[j].idf);
      }
      if (i + 1 < terms_.size() && !positions[i + 1].empty() && follows_within(positions[i], positions[i + 1], kBigramGap))
        bigram += terms_[i].idf + terms_[i + 1].idf;
    }

    f[0] = best > 0 ? it.get_weight() / best : 0;
    f[1] = idf_total_ > 0 ? coverage_idf / idf_total_ : 0;
    f[2] = terms_.empty() ? 0 : static_cast<double>(covered) / static_cast<double>(terms_.size());
    f[3] = idf_total_ > 0 ? title_idf / idf_total_ : 0;
    f[4] = pair_total_ > 0 ? proximity / pair_total_ : 0;
    f[5] = bigram_total_ > 0 ? bigram / bigram_total_ : 0;
    const Xapian::doccount collapsed = rank < collapse_counts.size() ? collapse_counts[rank] : it.get_collapse_count();
    f[6] = collapse ? std::min(1.0, std::log1p(static_cast<double>(collapsed)) / std::log(11.0)) : 0;
    const double ratio = std::max(1.0, doclen) / average_length;
    f[7] = std::clamp(std::log(ratio), -3.0, 3.0) / 3.0;
    f[8] = feedback_total > 0 ? feedback_present / feedback_total : 0;
    f[9] = 1.0 / (1.0 + static_cast<double>(rank));
    f[11] = idf_max_ > 0 ? rarest / idf_max_ : 0;
    f[12] = semantic[item];
    bm25_query[rank] = bm25;
  }
  const double best_query = *std::max_element(bm25_query.begin(), bm25_query.end());
  for (std::size_t i = 0; i < n; ++i) out[i][10] = best_query > 0 ? bm25_query[i] / best_query : 0;
  return out;
}

}  // namespace medsearch::searcher::rerank
