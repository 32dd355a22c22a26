// Question -> Xapian query -> ranked, attributed hits, over one database per Searcher.
#include "searcher/searcher.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "corpus/analysis.h"
#include "corpus/semantic.h"
#include "corpus/vocabulary.h"
#include "corpus/xapian_error.h"
#include "searcher/deadline.h"
#include "searcher/mapped_reads.h"
#include "searcher/snippet.h"
#include "searcher/spelling.h"

namespace medsearch::searcher {

namespace schema = corpus::schema;
using corpus::make_error;

namespace {


// Synonyms from the index (brand <-> generic drug names learned from labels) expand every query.
constexpr unsigned kSynonymFlags = Xapian::QueryParser::FLAG_AUTO_SYNONYMS | Xapian::QueryParser::FLAG_AUTO_MULTIWORD_SYNONYMS;
constexpr unsigned kStrictFlags = Xapian::QueryParser::FLAG_PHRASE | Xapian::QueryParser::FLAG_BOOLEAN |
                                  Xapian::QueryParser::FLAG_LOVEHATE | kSynonymFlags;

// An ambiguous abbreviation written as the vocabulary writes it ("MS", "PE") stands for each of
// its concepts, but less surely than an unambiguous name: the synonym table leaves it alone
// (corpus/vocabulary.h), and here each of its concept terms joins the query at this weight.
constexpr double kAmbiguousWeight = 0.5;

Xapian::Query with_ambiguous_forms(const Xapian::Query& query, const std::string& text,
                                   const std::vector<corpus::Word>& words) {
  const auto& ambiguous = corpus::builtin_vocabulary().ambiguous();
  if (ambiguous.empty()) return query;
  std::vector<std::string> concept_terms;
  for (const corpus::Word& word : words) {
    const std::string_view written(text.data() + word.begin, word.end - word.begin);
    for (const auto& form : ambiguous) {
      if (form.form != written) continue;  // exactly as written: "MS", not "ms" or "Ms"
      for (const auto& id : form.concepts) concept_terms.push_back(corpus::Vocabulary::term(id));
    }
  }
  if (concept_terms.empty()) return query;
  std::sort(concept_terms.begin(), concept_terms.end());
  concept_terms.erase(std::unique(concept_terms.begin(), concept_terms.end()), concept_terms.end());
  return Xapian::Query(Xapian::Query::OP_OR, query,
                       Xapian::Query(Xapian::Query::OP_SCALE_WEIGHT,
                                     Xapian::Query(Xapian::Query::OP_OR, concept_terms.begin(), concept_terms.end()),
                                     kAmbiguousWeight));
}

// A hyphenated word the index has a multi-word synonym for ("COVID-19", "beta-blocker",
// "SGLT2-inhibitor"): QueryParser searches it as a phrase and looks up no synonyms for a
// phrase, so it missed the concept that the spaced form ("covid 19") finds through the
// synonym table (1 record against 7 on corpus/samples). Each such phrase becomes the phrase
// OR'd as one synonym group with the key's synonyms: the passages that write it that way still
// match as before, and those naming the concept otherwise join them.
struct HyphenatedWord {
  std::vector<std::string> terms;  // as QueryParser makes them: "Z" + stem of each part
  std::string key;                 // the multi-word synonym key: the parts lowercased, spaced
};

std::vector<HyphenatedWord> hyphenated_words(const std::string& text, const std::vector<corpus::Word>& words) {
  std::vector<HyphenatedWord> out;
  std::optional<Xapian::Stem> stemmer;  // made for the first hyphenated word only
  std::size_t i = 0;
  while (i < words.size()) {
    std::size_t j = i + 1;
    // Parts joined by exactly one hyphen or slash ("HER2/neu"), as QueryParser makes phrases of.
    while (j < words.size() && words[j].begin == words[j - 1].end + 1 &&
           (text[words[j - 1].end] == '-' || text[words[j - 1].end] == '/'))
      ++j;
    if (j - i >= 2) {
      if (!stemmer) stemmer.emplace(corpus::kStemLanguage);
      HyphenatedWord h;
      for (std::size_t k = i; k < j; ++k) {
        std::string term = "Z";  // appended, not "Z" + stem: GCC 12 warns falsely on that (-Wrestrict)
        term += (*stemmer)(words[k].lower);
        h.terms.push_back(std::move(term));
        if (!h.key.empty()) h.key += ' ';
        h.key += words[k].lower;
      }
      out.push_back(std::move(h));
    }
    i = j;
  }
  return out;
}

// Operators whose subqueries are all there is to them, which the rewrites below rebuild from
// rewritten subqueries; anything under another operator (NEAR, a value range, a scaled weight)
// is left as it is.
bool rebuildable(Xapian::Query::op type) {
  switch (type) {
    case Xapian::Query::OP_AND:
    case Xapian::Query::OP_OR:
    case Xapian::Query::OP_AND_NOT:
    case Xapian::Query::OP_XOR:
    case Xapian::Query::OP_AND_MAYBE:
    case Xapian::Query::OP_FILTER:
    case Xapian::Query::OP_SYNONYM:
    case Xapian::Query::OP_MAX:
      return true;
    default:
      return false;
  }
}

// `changed` is set when the result differs from `query`.
Xapian::Query with_hyphenated_synonyms(const Xapian::Query& query, const std::vector<HyphenatedWord>& hyphenated,
                                       const Xapian::Database& db, bool& changed) {
  const auto type = query.get_type();
  if (type == Xapian::Query::OP_PHRASE) {
    std::vector<std::string> terms;
    for (std::size_t i = 0; i < query.get_num_subqueries(); ++i) {
      const Xapian::Query sub = query.get_subquery(i);
      if (sub.get_type() != Xapian::Query::LEAF_TERM) return query;
      terms.push_back(*sub.get_terms_begin());
    }
    for (const auto& h : hyphenated) {
      if (h.terms != terms) continue;
      std::vector<Xapian::Query> group{query};
      for (auto it = db.synonyms_begin(h.key); it != db.synonyms_end(h.key); ++it) group.emplace_back(*it);
      if (group.size() == 1) return query;
      changed = true;
      return Xapian::Query(Xapian::Query::OP_SYNONYM, group.begin(), group.end());
    }
    return query;
  }
  if (!rebuildable(type)) return query;
  std::vector<Xapian::Query> subs;
  bool any = false;
  for (std::size_t i = 0; i < query.get_num_subqueries(); ++i)
    subs.push_back(with_hyphenated_synonyms(query.get_subquery(i), hyphenated, db, any));
  if (!any) return query;
  changed = true;
  return Xapian::Query(type, subs.begin(), subs.end());
}

// The stems of the stop words the index leaves out (corpus::unindexed_words).
const std::unordered_set<std::string>& unindexed_stop_stems() {
  static const std::unordered_set<std::string> stems = [] {
    std::unordered_set<std::string> out;
    const Xapian::Stem stem(corpus::kStemLanguage);
    for (std::string_view w : corpus::index_stop_words()) out.insert(stem(std::string(w)));
    return out;
  }();
  return stems;
}

// Those a question writes in capitals ("vitamin A", "type I"): the index keeps a stop word
// written so, and that is what such a question means.
std::unordered_set<std::string> capitalised_stop_stems(const std::vector<corpus::Word>& words) {
  std::unordered_set<std::string> out;
  for (const auto& w : words)
    if (w.capitals && corpus::is_index_stop_word(w.lower)) out.insert(w.lower);
  if (out.empty()) return out;
  const Xapian::Stem stem(corpus::kStemLanguage);
  std::unordered_set<std::string> stems;
  for (const auto& word : out) stems.insert(stem(word));
  return stems;
}

// Stop words between spaces are not indexed (corpus::unindexed_words), so a phrase that holds
// one would miss the passages that write it with spaces: a quoted "quality of life", or
// "follow-up" (Xapian's parser makes a phrase of hyphenated words) against "follow up". Such a
// phrase keeps its other words in order within its own span instead (Xapian's phrase window:
// "quality ... life" at most three positions apart, as the indexed "quality of life" is:
// left-out words keep their positions). A phrase left with one word is ORed with that word:
// the phrase still matches where the stop word is indexed (joined by a hyphen, written in
// capitals) and ranks those passages first ("follow-up", then "follow up").
Xapian::Query with_phrases_over_unindexed_words(const Xapian::Query& query,
                                                 const std::unordered_set<std::string>& capitalised, bool& changed) {
  const auto type = query.get_type();
  if (type == Xapian::Query::OP_PHRASE) {
    std::vector<Xapian::Query> kept;
    for (std::size_t i = 0; i < query.get_num_subqueries(); ++i) {
      const Xapian::Query sub = query.get_subquery(i);
      if (sub.get_type() != Xapian::Query::LEAF_TERM) return query;
      const std::string term = *sub.get_terms_begin();
      // "Z", a field prefix (S, XH), the stem.
      std::size_t at = term.empty() || term[0] != 'Z' ? std::string::npos : 1;
      while (at != std::string::npos && at < term.size() && term[at] >= 'A' && term[at] <= 'Z') ++at;
      if (at != std::string::npos) {
        const std::string stem = term.substr(at);
        if (unindexed_stop_stems().count(stem) > 0 && capitalised.count(stem) == 0) continue;
      }
      kept.push_back(sub);
    }
    if (kept.size() == query.get_num_subqueries()) return query;
    changed = true;
    // QueryParser's phrase window is its word count (no gaps allowed between them).
    const auto window = static_cast<Xapian::termcount>(query.get_num_subqueries());
    if (kept.size() >= 2) return Xapian::Query(Xapian::Query::OP_PHRASE, kept.begin(), kept.end(), window);
    if (kept.size() == 1) return Xapian::Query(Xapian::Query::OP_OR, query, kept.front());
    return query;
  }
  if (!rebuildable(type)) return query;
  std::vector<Xapian::Query> subs;
  bool any = false;
  for (std::size_t i = 0; i < query.get_num_subqueries(); ++i)
    subs.push_back(with_phrases_over_unindexed_words(query.get_subquery(i), capitalised, any));
  if (!any) return query;
  changed = true;
  return Xapian::Query(type, subs.begin(), subs.end());
}

// A multi-word name the synonym table knows ("heart failure", "chronic kidney disease"):
// QueryParser ORs its words inside the name's synonym group, so a passage saying only "heart"
// or only "disease" counted as naming it, and the group, weighed by BM25 as one term with the
// frequency of that OR (nearly every passage has "disease"), weighed almost nothing beside the
// question's other words: "heart failure treatment" ranked a psoriasis guideline first, on
// "treatment", and no heart-failure record in the top five. The words are AND'ed instead: a
// passage names the concept by all of its words (in any order, as "blood pressure ... high"
// still does) or by any of the group's other names and its concept term.
Xapian::Query with_multiword_names_whole(const Xapian::Query& query, bool& changed) {
  const auto type = query.get_type();
  if (!rebuildable(type)) return query;
  auto all_terms = [](const Xapian::Query& q) {
    for (std::size_t k = 0; k < q.get_num_subqueries(); ++k)
      if (q.get_subquery(k).get_type() != Xapian::Query::LEAF_TERM) return false;
    return true;
  };
  std::vector<Xapian::Query> subs;
  bool any = false;
  for (std::size_t i = 0; i < query.get_num_subqueries(); ++i) {
    const Xapian::Query sub = query.get_subquery(i);
    if (type == Xapian::Query::OP_SYNONYM && sub.get_type() == Xapian::Query::OP_OR && sub.get_num_subqueries() >= 2 &&
        all_terms(sub)) {
      std::vector<Xapian::Query> words;  // the leaves themselves: their query positions kept
      for (std::size_t k = 0; k < sub.get_num_subqueries(); ++k) words.push_back(sub.get_subquery(k));
      subs.emplace_back(Xapian::Query::OP_AND, words.begin(), words.end());
      any = true;
    } else {
      subs.push_back(with_multiword_names_whole(sub, any));
    }
  }
  if (!any) return query;
  changed = true;
  return Xapian::Query(type, subs.begin(), subs.end());
}

// A question that only excludes: every word written "-word" ("-riluzole"). Xapian's parser
// searches such a word as if the minus were not there, so "-riluzole" returned riluzole's
// passages first, the opposite of what was asked. A quoted excluded phrase is not recognised
// here (`-"a b"` has a word without the minus) and is left to Xapian.
bool only_excluded_words(const std::string& text) {
  bool excluded = false;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    const std::size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    const std::string_view token(text.data() + start, i - start);
    const bool has_word = std::any_of(token.begin(), token.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80;
    });
    if (!has_word) continue;
    if (token.front() != '-') return false;
    excluded = true;
  }
  return excluded;
}

corpus::Error only_excludes_error(const std::string& question) {
  return make_error(ErrorCode::invalid_argument,
                    "q: the query only excludes (" + question.substr(0, 80) +
                        "); name what to search for as well, e.g. 'als -riluzole'",
                    "q");
}

// What a question wrote that cannot work as written, said rather than answered with silence:
// a filter value that no passage has ("source:guidline", "year:abc", "drug:rilozole" make the
// answer empty) and a wildcard ("rilu*": Xapian's stemmed terms cannot be prefix-expanded, so
// the word is searched as it stands).
// The warning for a filter value that no passage has (`what` names the filter and the value).
std::string matches_nothing(const std::string& what) {
  return what + " matches no passage in this index, so nothing can be found with it";
}

void warn_unanswerable(const Xapian::Query& query, const std::string& question, const Xapian::Database& db,
                       std::vector<std::string>& warnings) {
  static const std::pair<std::string_view, const char*> kFilters[] = {
      {schema::kPrefixSource, "source"},     {schema::kPrefixSection, "section"},
      {schema::kPrefixDrug, "drug"},         {schema::kPrefixCondition, "condition"},
      {schema::kPrefixEvidence, "evidence"}, {schema::kPrefixReviewStatus, "status"},
      {schema::kPrefixMesh, "mesh"},         {schema::kPrefixPubType, "pubtype"},
      {schema::kPrefixYear, "year"}};
  for (auto t = query.get_unique_terms_begin(); t != query.get_unique_terms_end(); ++t) {
    const std::string& term = *t;
    for (const auto& [prefix, field] : kFilters) {
      if (term.rfind(prefix, 0) != 0 || term.size() == prefix.size()) continue;
      if (db.get_termfreq(term) == 0)
        warnings.push_back(matches_nothing(std::string(field) + ":" + term.substr(prefix.size())));
      break;
    }
  }
  for (std::size_t star = question.find('*'); star != std::string::npos; star = question.find('*', star + 1)) {
    if (star > 0 && std::isalnum(static_cast<unsigned char>(question[star - 1]))) {
      warnings.push_back("wildcards (*) are not supported: the word before '*' is searched as written");
      break;
    }
  }
}

// The question's `year:` filter takes what year_from and year_to take (kMinYear..kMaxYear, all
// four digits). It is an exact term, so "year:99" matched no passage and only earned the
// warning for a value no passage has, while year_from=99 is refused: a mistyped year is the
// same mistake however it is written. A year no passage has ("year:1750") is still a warning.
std::optional<corpus::Error> bad_year_filter(const Xapian::Query& query) {
  for (auto t = query.get_unique_terms_begin(); t != query.get_unique_terms_end(); ++t) {
    const std::string& term = *t;
    if (term.rfind(schema::kPrefixYear, 0) != 0) continue;
    const std::string value = term.substr(schema::kPrefixYear.size());
    int year = 0;
    const char* end = value.data() + value.size();
    const auto [ptr, ec] = std::from_chars(value.data(), end, year);
    if (ec == std::errc() && ptr == end && value.size() == 4 && year >= kMinYear && year <= kMaxYear) continue;
    return make_error(ErrorCode::invalid_argument,
                      "q: year:" + value.substr(0, 40) + " is not a year: year: takes a four-digit year between " +
                          std::to_string(kMinYear) + " and " + std::to_string(kMaxYear) + " (e.g. year:1999)",
                      "q");
  }
  return std::nullopt;
}

// Xapian's parser drops stop words within a run of words only when the run has other words,
// and `?`, `!`, `,` and `;` end a run: "what are? riluzole" searched what OR are OR riluzole
// (70 records of corpus/samples against 9), and "riluzole, what are" the same. Such a mark
// followed by a space (or ending the question) separates nothing the parser needs, so it goes;
// "1,000" and quoted text keep theirs.
std::string without_clause_punctuation(std::string text) {
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') quoted = !quoted;
    if (quoted || (c != '?' && c != '!' && c != ',' && c != ';')) continue;
    if (i + 1 == text.size() || std::isspace(static_cast<unsigned char>(text[i + 1]))) text[i] = ' ';
  }
  return text;
}

}  // namespace

Status validate(const SearchRequest& r) {
  auto bad = [](const std::string& param, const std::string& what) {
    return Status(make_error(ErrorCode::invalid_argument, param + ": " + what, param));
  };
  if (r.query.empty()) return bad("q", "the query is empty");
  if (r.query.size() > kMaxQueryBytes)
    return bad("q", "the query is longer than " + std::to_string(kMaxQueryBytes) + " bytes");
  if (std::size_t pos = corpus::find_invalid_utf8(r.query); pos != std::string::npos)
    return bad("q", "the query is not valid UTF-8 (byte " + std::to_string(pos + 1) + ")");
  if (r.limit < 1 || r.limit > kMaxLimit) return bad("limit", "must be between 1 and " + std::to_string(kMaxLimit));
  if (r.offset < 0 || r.offset > kMaxOffset) return bad("offset", "must be between 0 and " + std::to_string(kMaxOffset));
  for (const auto& [param, year] : {std::pair{"year_from", r.year_from}, std::pair{"year_to", r.year_to}})
    if (year && (*year < kMinYear || *year > kMaxYear))
      return bad(param, "must be a four-digit year between " + std::to_string(kMinYear) + " and " +
                            std::to_string(kMaxYear) + ", got " + std::to_string(*year) +
                            " (write the whole year: 1999, not 99)");
  if (r.year_from && r.year_to && *r.year_from > *r.year_to) return bad("year_from", "is after year_to");
  if (r.per_record < 0 || r.per_record > kMaxLimit) return bad("per_record", "must be between 0 and " + std::to_string(kMaxLimit));
  if (r.snippet_bytes > 5000) return bad("snippet_bytes", "must be at most 5000");
  if (r.drugs.size() > kMaxFilterValues) return bad("drug", "at most " + std::to_string(kMaxFilterValues) + " values");
  for (const auto& drug : r.drugs)
    if (drug.empty() || drug.size() > 200 || !corpus::is_valid_utf8(drug))
      return bad("drug", "each value must be 1-200 bytes of valid UTF-8");
  if (r.sections.size() > kMaxFilterValues) return bad("section", "at most " + std::to_string(kMaxFilterValues) + " values");
  for (const auto& key : r.sections)
    if (key.empty() || key.size() > 100 ||
        !std::all_of(key.begin(), key.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }))
      return bad("section", "a section key is 1-100 characters of a-z, 0-9 and _ (e.g. adverse_reactions)");
  for (const auto& level : r.evidence_levels)
    if (std::find(std::begin(corpus::kEvidenceLevels), std::end(corpus::kEvidenceLevels), level) ==
        std::end(corpus::kEvidenceLevels))
      return bad("evidence", "unknown evidence level '" + level.substr(0, 40) + "'");
  return Status::success();
}

Result<QueryPlan> build_query(const std::string& question, const Xapian::Database& db) {
  QueryPlan plan;
  const std::string text = without_clause_punctuation(corpus::normalize_for_analysis(question));
  Xapian::QueryParser parser;
  corpus::configure_query_parser(parser);
  parser.set_database(db);
  if (only_excluded_words(text)) return only_excludes_error(question);
  try {
    plan.query = parser.parse_query(text, kStrictFlags);
  } catch (const Xapian::QueryParserError& e) {
    // "NOT riluzole" fails to parse as well (NOT needs a left side); read as a pure NOT it
    // matches everything but riluzole, unranked: refuse it as "-riluzole" is refused, rather
    // than search its words, riluzole among them.
    try {
      const Xapian::Query pure = parser.parse_query(text, kStrictFlags | Xapian::QueryParser::FLAG_PURE_NOT);
      if (pure.get_type() == Xapian::Query::OP_AND_NOT && pure.get_num_subqueries() > 0 &&
          pure.get_subquery(0).get_type() == Xapian::Query::LEAF_MATCH_ALL)
        return only_excludes_error(question);
    } catch (const Xapian::QueryParserError&) {
    }
    // Broken syntax (an unmatched quote, a dangling AND): search the words instead.
    plan.warnings.push_back("query syntax not understood (" + e.get_msg() + "); searched for the words instead");
    try {
      plan.query = parser.parse_query(text, kSynonymFlags);
    } catch (const Xapian::QueryParserError& again) {
      return make_error(ErrorCode::invalid_argument, "q: cannot parse the query: " + again.get_msg(), "q");
    }
  }
  if (auto bad_year = bad_year_filter(plan.query)) return *bad_year;
  const std::vector<corpus::Word> words = corpus::split_words(text);
  if (const auto hyphenated = hyphenated_words(text, words); !hyphenated.empty() && !plan.query.empty()) {
    bool changed = false;
    plan.query = with_hyphenated_synonyms(plan.query, hyphenated, db, changed);
  }
  if (!plan.query.empty()) {
    bool changed = false;
    plan.query = with_multiword_names_whole(plan.query, changed);
  }
  if (!plan.query.empty()) {
    bool changed = false;
    plan.query = with_phrases_over_unindexed_words(plan.query, capitalised_stop_stems(words), changed);
  }
  if (!plan.query.empty() && plan.warnings.empty() && rerank::only_words(plan.query))
    plan.query = with_ambiguous_forms(plan.query, text, words);
  if (!plan.query.empty()) {
    // Xapian keeps stop words when they are all a question has ("the of and"): searched, but the
    // answer is as good as arbitrary, and says so.
    if (!words.empty() && std::all_of(words.begin(), words.end(),
                                      [](const corpus::Word& w) { return corpus::stopper()(w.lower); }))
      plan.warnings.push_back("the query has only common words; results may be poor");
  }
  if (plan.query.empty()) {
    // Every word was a stop word or punctuation; search them rather than nothing.
    Xapian::QueryParser plain;
    plain.set_database(db);
    plain.set_stemmer(Xapian::Stem(corpus::kStemLanguage));
    plain.set_stemming_strategy(Xapian::QueryParser::STEM_ALL_Z);
    try {
      plan.query = plain.parse_query(text, 0);
    } catch (const Xapian::QueryParserError&) {
      plan.query = Xapian::Query();
    }
    if (plan.query.empty())
      return make_error(ErrorCode::invalid_argument, "q: the query has no searchable words", "q");
    plan.warnings.push_back("the query has only common words; results may be poor");
  }
  return plan;
}

Result<std::unique_ptr<Searcher>> Searcher::open(const std::string& path) {
  try {
    // A stub naming several local shards is opened shard by shard (as Xapian would), keeping
    // each shard's handle for its revision (shard_revisions); anything else as Xapian opens it.
    std::vector<Xapian::Database> shards;
    Xapian::Database db;
    if (auto specs = expand_shards({path}); specs.ok() && specs->size() > 1 &&
                                            std::all_of(specs->begin(), specs->end(), [](const ShardSpec& s) {
                                              return s.kind == ShardSpec::Kind::local;
                                            })) {
      for (const auto& spec : *specs) {
        shards.emplace_back(spec.path);
        db.add_database(shards.back());
      }
    } else {
      db = Xapian::Database(path);
    }
    Status version = schema::check_version(db);
    if (!version.ok()) return make_error(version.error().code, path + ": " + version.error().message);
    auto searcher = std::make_unique<Searcher>(std::move(db), path);
    searcher->opened_read_only_ = true;
    searcher->own_shards_ = std::move(shards);
    searcher->shard_names_ = {path};
    return searcher;
  } catch (const Xapian::Error& e) {
    Error err = corpus::error_from_xapian(e, "cannot open index " + path);
    if (err.code == ErrorCode::internal) err.code = ErrorCode::unavailable;
    return err;
  }
}

Result<std::unique_ptr<Searcher>> Searcher::open(const std::vector<std::string>& shards, const ShardOptions& options) {
  std::string shown;
  for (const auto& s : shards) shown += (shown.empty() ? "" : ", ") + s;
  auto set = ShardSet::open(shards, options);
  if (!set.ok()) return set.error();
  try {
    auto searcher = std::make_unique<Searcher>(set->db(), shown);
    Status version = schema::check_version(searcher->db_);
    if (!version.ok()) return make_error(version.error().code, shown + ": " + version.error().message);
    searcher->shards_ = std::make_shared<ShardSet>(std::move(*set));
    searcher->opened_read_only_ = true;
    searcher->shard_names_ = shards;
    if (!options.lexicon.empty()) {
      searcher->lexicon_ = Xapian::Database(options.lexicon);
      searcher->has_lexicon_ = true;
    }
    return searcher;
  } catch (const Xapian::Error& e) {
    Error err = corpus::error_from_xapian(e, "cannot open index " + shown);
    if (err.code == ErrorCode::internal) err.code = ErrorCode::unavailable;
    return err;
  }
}

Searcher::Searcher(Xapian::Database db, std::string path)
    : db_(std::move(db)), path_(std::move(path)), stemmer_(corpus::cached_stemmer(corpus::kSearchStemCacheWords)) {
  mapped_reads::enable_from_environment();  // the index's blocks through memory maps (mapped_reads.h)
  // The built-in vocabulary (its ambiguous forms mark the question's terms) is parsed once per
  // process, about 9 ms; here rather than in the first search, so that a server's first request
  // and a batch's first question do not wait for it (as the rerank model above is parsed here).
  corpus::builtin_vocabulary();
}

void Searcher::set_helper_thread(bool on) {
  use_helper_ = on;
  if (!on) helper_.reset();
}

HelperThread* Searcher::helper() {
  if (!use_helper_ || helper_failed_ || !opened_read_only_) return nullptr;
  if (!helper_) {
    // Local shards only: the helper opens them itself.
    auto specs = expand_shards(shard_names_);
    std::vector<std::string> paths;
    if (specs.ok())
      for (const auto& spec : *specs)
        if (spec.kind == ShardSpec::Kind::local) paths.push_back(spec.path);
    if (!specs.ok() || paths.empty() || paths.size() != specs->size()) {
      helper_failed_ = true;
      return nullptr;
    }
    helper_ = std::make_unique<HelperThread>(std::move(paths));
  }
  try {
    if (!helper_->sync(db_.get_uuid(), shard_revisions())) return nullptr;
  } catch (const Xapian::Error&) {
    return nullptr;
  }
  return helper_.get();
}

std::vector<Xapian::rev> Searcher::shard_revisions() const {
  std::vector<Xapian::rev> out;
  try {
    if (shards_) {
      // Only when every shard is up: a shard left out (partial answers) is not in db_.
      if (!shards_->missing().empty()) return {};
      out = shards_->state().revisions;
    } else if (!own_shards_.empty()) {
      for (const auto& shard : own_shards_) out.push_back(shard.get_revision());
    } else if (db_.size() == 1) {
      out.push_back(db_.get_revision());
    }
  } catch (const Xapian::Error&) {
    return {};
  }
  return out;
}

Status Searcher::reopen() {
  try {
    if (has_lexicon_) lexicon_.reopen();
    if (shards_) {
      // The server reopens before every request: the term frequencies go only when the data
      // changed (clearing them every time cost each search its ESet's B-tree lookups).
      const ShardSet::State before = shards_->state();
      Status refreshed = shards_->refresh();
      db_ = shards_->db();
      if (!refreshed.ok() || !(shards_->state() == before)) data_changed();
      return refreshed;
    }
    // Xapian says whether the revision may have changed: the term frequencies go with it. An
    // index replaced underneath at the same revision keeps its old tables open under a new
    // UUID (shards.cc, ShardSet::refresh): opened afresh.
    const std::string uuid = db_.get_uuid();
    if (db_.reopen()) data_changed();
    if (opened_read_only_ && !path_.empty() && db_.get_uuid() != uuid) {
      auto fresh = open(path_);
      if (!fresh.ok()) return fresh.error();
      db_ = (*fresh)->db_;
      own_shards_ = (*fresh)->own_shards_;
      data_changed();
    }
    return Status::success();
  } catch (const Xapian::Error& e) {
    return corpus::error_from_xapian(e, "reopen");
  }
}

Result<SearchResponse> Searcher::search(const SearchRequest& request) {
  Status valid = validate(request);
  if (!valid.ok()) return valid.error();
  // A writer that committed twice while we read (the old revision is gone): reopen and retry.
  // A remote shard that went down or timed out: find out which, then answer from the others
  // (partial answers on) or say which shard failed.
  return guarded<SearchResponse>("search", [&] { return search_once(request); });
}

Status Searcher::recover_shards() {
  Status recovered = shards_->recover();
  db_ = shards_->db();
  data_changed();
  return recovered;
}

Result<SearchResponse> Searcher::search_once(const SearchRequest& request) {
  const rerank::Model& model = this->model();
  const auto start = std::chrono::steady_clock::now();
  SearchResponse response;
  response.query = request.query;
  // Each stage's time goes to response.timings: lap(x) adds the time since the last lap to x.
  auto last = start;
  auto lap = [&last](double& stage) {
    const auto now = std::chrono::steady_clock::now();
    stage += std::chrono::duration<double, std::milli>(now - last).count();
    last = now;
  };

  // Section intent ("side effects", "dose") becomes a boost (below) rather than words to match.
  std::string text = request.query;
  if (request.intent) {
    response.intent = detect_intent(request.intent_text.empty() ? request.query : request.intent_text);
    text = without_section_words(request.query, response.intent, db_);
  }
  auto plan = build_query(text, vocabulary());
  if (!plan.ok()) return plan.error();
  response.warnings = std::move(plan->warnings);
  warn_unanswerable(plan->query, request.query, db_, response.warnings);
  Xapian::Query query = plan->query;
  lap(response.timings.parse);

  // Filters: sources (any of), year range, drugs, sections, evidence levels (any value of a
  // list, every list). They apply to the widened query, so expansion terms never let
  // filtered-out passages in, and to the question's own query, which the counts describe.
  std::vector<Xapian::Query> filters;
  if (!request.sources.empty()) {
    std::vector<Xapian::Query> terms;
    for (Source s : request.sources) terms.emplace_back(schema::term(schema::kPrefixSource, corpus::to_string(s)));
    filters.emplace_back(Xapian::Query::OP_OR, terms.begin(), terms.end());
  }
  if (request.year_from && request.year_to)
    filters.emplace_back(Xapian::Query::OP_VALUE_RANGE, schema::kSlotYear, Xapian::sortable_serialise(*request.year_from),
                         Xapian::sortable_serialise(*request.year_to));
  else if (request.year_from)
    filters.emplace_back(Xapian::Query::OP_VALUE_GE, schema::kSlotYear, Xapian::sortable_serialise(*request.year_from));
  else if (request.year_to)
    filters.emplace_back(Xapian::Query::OP_VALUE_LE, schema::kSlotYear, Xapian::sortable_serialise(*request.year_to));
  // A filter value no passage has (a section key of another label format, a misspelt drug)
  // filters everything out: say so, as for the same filter written in the question.
  auto filter_terms = [&](std::string_view prefix, const std::vector<std::string>& values, bool lower,
                          const char* field) {
    if (values.empty()) return;
    std::vector<Xapian::Query> terms;
    for (std::string v : values) {
      if (lower) std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string term = schema::term(prefix, v);
      if (db_.get_termfreq(term) == 0)
        response.warnings.push_back(matches_nothing(std::string(field) + " filter " + v.substr(0, 100)));
      terms.emplace_back(std::move(term));
    }
    filters.emplace_back(Xapian::Query::OP_OR, terms.begin(), terms.end());
  };
  filter_terms(schema::kPrefixDrug, request.drugs, true, "drug");
  filter_terms(schema::kPrefixSection, request.sections, false, "section");
  filter_terms(schema::kPrefixEvidence, request.evidence_levels, false, "evidence");
  auto filtered = [&filters](Xapian::Query q) {
    for (const auto& f : filters) q = Xapian::Query(Xapian::Query::OP_FILTER, q, f);
    return q;
  };
  const bool remote = shards_ && shards_->any_remote();
  // Xapian's pruning returns the exact top of the match (ties within floating-point noise
  // aside: see the margin below), collapsed or not, over one database or several; only counts
  // need every match checked. The reranker's per-record passage counts come from a small query
  // of their own (rerank::record_collapse_counts), so that leaves facets: they count every match
  // when the index is small enough to look at all of them, and at least kFacetSampleMatches
  // otherwise (then they are exact only if the question matched fewer).
  // Over remote shards (slow anyway: a round trip per shard) the main match checks every match:
  // a pruned match can order near-ties (scores a last bit apart over shards) differently from a
  // full one, and the reranker's first_rank feature then moves the tail of the reranked top
  // (api_test's three_remote_shards against one database, "rilutek side effects", before this
  // rule).
  const auto first = static_cast<Xapian::doccount>(request.offset);
  const auto count = static_cast<Xapian::doccount>(request.limit);
  const bool small_index = db_.get_doccount() <= kExactFacetsMaxPassages;
  const Xapian::doccount check_at_least =
      remote || (request.facets && small_index) ? db_.get_doccount()
      : request.facets                           ? std::max(first + count, kFacetSampleMatches)
                                                 : first + count;
  // The deadline: when it has passed (or passes during the match), checking stops at the best
  // hits, and the total and the facets become estimates (searcher/deadline.h).
  const Clock::time_point deadline = remote || !request.deadline ? Clock::time_point::max() : *request.deadline;
  bool cut = false;
  RecordFacetSpy spy;
  bool spied = false;  // the spy has seen the question's own matches already
  // Every match was seen when the check covered the whole index, or when the spy saw fewer
  // than check_at_least: Xapian prunes only once that many matches were kept, so a match
  // that ended below it looked at everything (selective questions on any index size).
  // (When the helper sampled each shard on its own, it says whether every shard's pass saw all.)
  std::optional<bool> shards_saw_all;
  auto spy_saw_all = [&] {
    if (shards_saw_all) return *shards_saw_all;
    return check_at_least >= db_.get_doccount() || spy.passages_seen() < check_at_least;
  };

  // Facets from a boolean pass of their own over the question's first check_at_least matching
  // passages in index order: every match on a small index (one database or several), a sample
  // on a larger one, which Xapian stops as soon as it has them (it can for a boolean match of
  // one database, not over several, whose postings it walks shard after shard). The scored
  // matches below then prune from the start instead of weighing, sorting and collapsing that
  // many candidates first: 5-9% less CPU a search at 100k passages, and on SciFact's 8,168
  // passages in two shards 27% fewer instructions a search, everything on (ARCHITECTURE.md).
  // The pass runs on the helper thread when there is one (helper.h), beside the rest of the
  // search, which waits for it only after its main match, before reading the spy. With the
  // helper, several large local shards get a boolean pass too: each shard on its own (where
  // Xapian can stop it), its first check_at_least matches, so the scored matches prune from
  // their start there as well; the facets are exact when no shard had that many. Without it,
  // over several large shards the spy rides on a scored match, over remote ones on a pass of its
  // own (below).
  bool sample_cut = false;
  HelperWait facets_pending;  // declared after the spy and the flags above: waits before they go
  HelperThread* helper_for_facets = request.facets && !remote ? helper() : nullptr;
  const bool per_shard = helper_for_facets && db_.size() > 1 && !small_index;
  if (request.facets && !remote && (per_shard || db_.size() == 1 || small_index)) {
    // One boolean pass over `db`; true when it saw every match (fewer than check_at_least).
    auto sample_pass = [&spy, &sample_cut, first, count, check_at_least, deadline](const Xapian::Database& db,
                                                                                  const Xapian::Query& q) {
      Xapian::Enquire sample(db);
      sample.set_weighting_scheme(Xapian::BoolWeight());
      sample.set_query(q);
      sample.add_matchspy(&spy);
      const Xapian::doccount before = spy.passages_seen();
      // Past the deadline, the facets count what the pass saw by then (an estimate).
      bool pass_cut = false;
      match_until(sample, 0, first + count, check_at_least, deadline, pass_cut);
      sample_cut = sample_cut || pass_cut;
      return spy.passages_seen() - before < check_at_least;
    };
    if (per_shard) shards_saw_all = true;
    if (helper_for_facets) {
      // Xapian's Query is reference counted without atomics: the helper gets a copy of its own.
      helper_for_facets->start([sample_pass, per_shard, &shards_saw_all, wire = filtered(plan->query).serialise()](
                                   const Xapian::Database& db, const std::vector<Xapian::Database>& shards) {
        const Xapian::Query q = Xapian::Query::unserialise(wire);
        if (!per_shard) {
          sample_pass(db, q);
          return;
        }
        for (const auto& shard : shards)
          if (!sample_pass(shard, q)) shards_saw_all = false;
      });
      facets_pending.set(helper_for_facets);
      ++helper_tasks_;
    } else {
      sample_pass(db_, filtered(plan->query));
      cut = cut || sample_cut;
    }
    spied = true;
    lap(response.timings.match);
  }

  // First-stage feedback (when the model asks for it) widens the query. The feedback pass
  // matches the question itself, which is also what the facets count when the query is
  // widened: with no filters (the feedback pass ignores them) one match serves both, the spy
  // watching it to the facets' depth while its top passages feed the expansion.
  const bool widens_question = rerank::widens(plan->query, model.feedback);
  std::vector<std::pair<std::string, double>> feedback;
  double question_best = 0;
  if (request.rerank && rerank::feeds_back(plan->query, model.feedback)) {
    if (request.facets && !remote && !spied && filters.empty() && widens_question) {
      Xapian::Enquire own = rerank::feedback_enquire(db_, query);
      own.add_matchspy(&spy);
      const Xapian::doccount want = model.feedback.docs + rerank::kFeedbackMargin;
      Xapian::MSet top = match_until(own, 0, want, std::max(check_at_least, want), deadline, cut);
      question_best = top.get_max_attained();
      feedback = rerank::feedback_from(db_, own, top, model.feedback, freq_cache());
      spied = true;
    } else {
      feedback = rerank::feedback_terms(db_, query, model.feedback, remote, freq_cache(), &question_best);
    }
    query = rerank::expand(query, feedback, model.feedback);
  }
  lap(response.timings.feedback);

  query = filtered(query);
  // What the question itself matches. When feedback widened the query (an OR: passages sharing
  // no word with the question but many with its best matches come in, below them), the widened
  // query matches most of the index; the total and the facets count the question's matches.
  const bool widened = !feedback.empty() && widens_question;
  const Xapian::Query counted = widened ? filtered(plan->query) : query;
  response.spelling = spelling_suggestion(request.query, db_, vocabulary(), stemmer_);
  lap(response.timings.spelling);

  Xapian::Enquire enquire(db_);
  enquire.set_weighting_scheme(Xapian::BM25Weight());
  // Equal scores are ordered by passage id, so the order never depends on ingest order.
  enquire.set_sort_by_relevance_then_value(schema::kSlotPassageId, false);
  if (request.per_record > 0) enquire.set_collapse_key(schema::kSlotRecordId, request.per_record);
  // The intent boost is scaled to the question's best score: the feedback pass's, when it ran
  // over the same passages (it ignores filters), else a top-1 search of its own (intent.h).
  if (request.intent)
    query = boost_for_intent(query, response.intent, enquire, db_, filters.empty() ? question_best : 0);
  response.parsed_query = query.get_description();
  enquire.set_query(query);
  // A remote shard cannot run our match spy (stock xapian-tcpsrv has no registry for it, and
  // the spy does not serialise): over remote shards the facets are a second pass below, as
  // they are when the query was widened (they count the question's own matches), unless the
  // feedback pass counted them already.
  const bool spy_on_main = request.facets && !remote && !widened && !spied;
  if (spy_on_main) enquire.add_matchspy(&spy);

  // Scores that differ only in floating-point noise (the same passage text scored in one
  // database or across shards can differ in the last bit) must still tie, and ties break on
  // passage id. So fetch a margin around the page and order it by (score to 1e-9, passage id).
  // The second stage reorders the first stage's top `depth`, so it needs them all.
  constexpr Xapian::doccount kMargin = 8;
  const auto depth = static_cast<Xapian::doccount>(model.depth);
  const bool rerank = request.rerank && first < depth;
  Xapian::doccount lo = first > kMargin ? first - kMargin : 0;
  if (rerank) lo = 0;
  const Xapian::doccount want = std::max(first - lo + count + kMargin, rerank ? depth : 0);
  bool main_cut = false;
  Xapian::MSet mset = match_until(enquire, lo, want,
                                  std::max(spy_on_main || remote ? check_at_least : 0, lo + want),
                                  deadline, main_cut);
  cut = cut || main_cut;
  if (facets_pending.active()) {
    facets_pending.wait();  // rethrows the pass's error (a commit overtook it: search() retries)
    cut = cut || sample_cut;
  }
  response.total_estimate = mset.get_matches_estimated();
  if (widened) {
    // The total and the facets count the question's own matches: a second, narrower match,
    // unless the feedback pass counted the facets (then the total is Xapian's estimate, or
    // the spy's count when it saw every match).
    Xapian::Enquire own(db_);
    own.set_query(counted);
    if (request.per_record > 0) own.set_collapse_key(schema::kSlotRecordId, request.per_record);
    if (request.facets && !remote && !spied) {
      own.set_weighting_scheme(Xapian::BM25Weight());
      own.set_sort_by_relevance_then_value(schema::kSlotPassageId, false);
      own.add_matchspy(&spy);
      bool own_cut = false;
      response.total_estimate =
          match_until(own, 0, first + count, check_at_least, deadline, own_cut).get_matches_estimated();
      cut = cut || own_cut;
    } else if (request.count_total && !(request.facets && spied && !cut && spy_saw_all())) {
      // (When the facets' spy saw every match, it counts the total below.)
      // A match of the question, checking as many matches as the main match checks: a
      // collapsed count needs matches seen (get_mset(0, 0) estimates from the term statistics
      // and counted passages, not records: "riluzole" 80 where 9 records match). Boolean on one
      // database, where Xapian stops once it has checked that many. Over several local shards
      // it does not stop: it walks and collapses every match of every shard (23-42 ms for
      // NFCorpus's "hela cells" and two other widened questions at 100k passages in two
      // shards, against 0.03-0.07 ms in one database), so there the match is scored, which
      // Xapian prunes as it does the main match (about 1 ms, the same estimates as one
      // database gives). Remote shards check every match either way.
      if (db_.size() == 1 || remote)
        own.set_weighting_scheme(Xapian::BoolWeight());
      else
        own.set_weighting_scheme(Xapian::BM25Weight());
      const Xapian::doccount checked = std::max(remote ? check_at_least : 0, lo + want);
      response.total_estimate = own.get_mset(0, lo + want, checked).get_matches_estimated();
    }
  }
  if (cut) {
    response.deadline_exceeded = true;
    response.warnings.push_back("the request's deadline passed during the match: total_estimate and facets are estimates");
  }
  if (request.facets && remote) {
    // The same matches as the spy would see (every match, or the best check_at_least): the
    // uncollapsed match set, its documents fetched in one batch, each fed to the spy.
    Xapian::Enquire all(db_);
    all.set_weighting_scheme(Xapian::BM25Weight());
    all.set_sort_by_relevance_then_value(schema::kSlotPassageId, false);
    all.set_query(counted);
    Xapian::MSet matches = all.get_mset(0, check_at_least, check_at_least);
    matches.fetch();
    for (auto it = matches.begin(); it != matches.end(); ++it) spy(it.get_document(), it.get_weight());
  }
  if (request.facets) {
    response.facets = spy.facets(spy_saw_all() && !response.deadline_exceeded);
    // Every match was seen: count them rather than estimate.
    if (response.facets->exact) response.total_estimate = spy.matches(request.per_record);
    enquire.clear_matchspies();
  }

  // Ordered by score to 1e-9, ties by passage id (rerank::sort_ranked).
  std::vector<rerank::RankedHit> ranked;
  for (auto it = mset.begin(); it != mset.end(); ++it) ranked.push_back({std::llround(it.get_weight() * 1e9), {}, it});
  rerank::sort_ranked(ranked);
  lap(response.timings.match);
  if (rerank && !ranked.empty()) {
    // The top `depth` are scored by the model and put in its order; what follows keeps the
    // first-stage order. Scores stay monotone: reranked ones are 1 + (model score - the lowest
    // model score), the rest their first-stage weight over the best one (at most 1).
    const double best = ranked.front().it.get_weight();
    const std::size_t n = std::min<std::size_t>(depth, ranked.size());
    // What the model gives no weight (medsearch-train --features) is not computed: position
    // lists (proximity, bigram) and the records' other matching passages (passages).
    rerank::FeatureExtractor extractor(db_, plan->query);
    extractor.skip_positions(!model.uses(rerank::kProximity) && !model.uses(rerank::kBigram));
    extractor.skip_semantic(!model.uses(rerank::kSemantic));
    if (semantic_dims_) extractor.semantic_dims(*semantic_dims_);  // model() read the header
    extractor.use_term_lists(remote);
    const std::vector<rerank::Features> features = extractor.compute(
        mset, n, request.per_record > 0, feedback,
        request.per_record > 0 && model.uses(rerank::kPassages)
            ? rerank::record_collapse_counts(db_, query, mset, n, request.per_record, !remote)
            : std::vector<Xapian::doccount>{},
        model.feedback.docs == 0);
    // compute() follows mset order; ranked[0, n) is the same set ordered with ties broken.
    std::vector<double> model_score = model.score_all(features, n);
    const double lowest = *std::min_element(model_score.begin(), model_score.end());
    // The model knows nothing of what the question asked for: the intent boost (intent.h) is
    // applied again on its scale. A passage of the asked-for section gains 2.5 times the model
    // scores' spread (a close relative, weight 0.6, 1.5 times), so among passages holding the
    // question's words the asked-for section comes first, then its relatives, whatever the
    // model's preferences; passages only the feedback brought in gain nothing.
    constexpr double kIntentScale = 2.5;
    if (request.intent && !response.intent.empty()) {
      const double spread = std::max(*std::max_element(model_score.begin(), model_score.end()) - lowest, 1e-6);
      std::size_t i = 0;
      for (auto it = mset.begin(); i < n; ++it, ++i) {
        const Xapian::Document doc = it.get_document();
        const std::string section = doc.get_value(schema::kSlotSection);
        const std::string evidence = doc.get_value(schema::kSlotEvidence);
        double bonus = 0;
        for (const auto& t : response.intent.sections)
          if (!section.empty() && t.value == section) bonus = std::max(bonus, kSectionBoost * t.weight);
        for (const auto& t : response.intent.evidence_levels)
          if (!evidence.empty() && t.value == evidence) bonus += kEvidenceBoost * t.weight;
        if (features[i][2] > 0) model_score[i] += kIntentScale * bonus * spread;  // [2]: coverage
      }
    }
    for (auto& r : ranked) {
      const auto index = static_cast<std::size_t>(r.it.get_rank() - mset.get_firstitem());
      const double score = index < n ? 1.0 + model_score[index] - lowest : (best > 0 ? r.it.get_weight() / best : 0);
      r.key = std::llround(score * 1e9);
    }
    rerank::sort_ranked(ranked);
  }
  lap(response.timings.rerank);

  // Snippets mark the question's words (not the expansion's), read as the index reads them
  // (searcher/snippet.h), the rarer weighing more in choosing the window.
  std::optional<Snippeter> snippeter;
  if (request.snippet_bytes > 0) {
    // Term frequencies from the match's own statistics (the question's terms are in every
    // query that ran): no lookups, and no round trips to remote shards.
    std::vector<std::pair<std::string, double>> terms;
    const double passages = std::max<double>(db_.get_doccount(), 1);
    for (auto t = plan->query.get_unique_terms_begin(); t != plan->query.get_unique_terms_end(); ++t)
      terms.emplace_back(*t, std::log(1.0 + passages / std::max<double>(mset.get_termfreq(*t), 1)));
    snippeter.emplace(terms, stemmer_);
  }

  // The page's stored passages, read in document id order: neighbouring ids share B-tree
  // blocks, and each block read is a system call.
  const std::size_t page_begin = std::min<std::size_t>(first - lo, ranked.size());
  const std::size_t page_end = std::min<std::size_t>(first - lo + count, ranked.size());
  std::vector<std::size_t> by_docid;
  for (std::size_t i = page_begin; i < page_end; ++i) by_docid.push_back(i);
  std::sort(by_docid.begin(), by_docid.end(), [&ranked](std::size_t a, std::size_t b) { return *ranked[a].it < *ranked[b].it; });
  std::vector<std::string> data(page_end - page_begin);
  for (std::size_t i : by_docid) data[i - page_begin] = schema::stored_document_data(ranked[i].it.get_document());

  int rank = request.offset;
  for (std::size_t i = page_begin; i < page_end; ++i) {
    const Xapian::MSetIterator& it = ranked[i].it;
    auto stored = schema::decode_document_data(data[i - page_begin]);
    if (!stored.ok()) return make_error(ErrorCode::corrupt, "passage " + std::to_string(*it) + ": " + stored.error().message);
    Hit hit;
    hit.rank = ++rank;
    hit.score = static_cast<double>(ranked[i].key) / 1e9;  // as ranked: to 1e-9
    if (snippeter) hit.snippet = (*snippeter)(stored->passage.text, request.snippet_bytes);
    hit.stored = std::move(stored.value());
    response.hits.push_back(std::move(hit));
  }
  note_missing(response.partial, response.missing_shards);
  lap(response.timings.output);
  response.took_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return response;
}

const rerank::Model& Searcher::model() {
  if (!builtin_model_) return model_;
  // Cached per revision for an index opened here; a database the caller gave may change in
  // place, so it is asked every time (one metadata lookup).
  if (!semantic_dims_ || !opened_read_only_) {
    try {
      semantic_dims_ = corpus::semantic::read_info(db_).value_or(corpus::semantic::ModelInfo{}).dims;
    } catch (const Xapian::Error&) {
      semantic_dims_.reset();
      return model_;  // not known (a shard down): asked again next time; the search reports it
    }
  }
  return *semantic_dims_ > 0 ? model_ : rerank::Model::builtin_lexical();
}

Result<std::vector<Searcher::Candidate>> Searcher::candidates(const std::string& question, int depth) {
  try {
    auto plan = build_query(question, vocabulary());
    if (!plan.ok()) return plan.error();
    const bool remote = shards_ && shards_->any_remote();
    const auto feedback = rerank::feedback_terms(db_, plan->query, model_.feedback, false, freq_cache());
    Xapian::Enquire enquire(db_);
    const Xapian::Query expanded = rerank::expand(plan->query, feedback, model_.feedback);
    enquire.set_query(expanded);
    enquire.set_weighting_scheme(Xapian::BM25Weight());
    enquire.set_sort_by_relevance_then_value(schema::kSlotPassageId, false);
    enquire.set_collapse_key(schema::kSlotRecordId, 1);
    const auto n = static_cast<Xapian::doccount>(std::max(depth, 1));
    Xapian::MSet mset = enquire.get_mset(0, n);
    rerank::FeatureExtractor extractor(db_, plan->query);
    extractor.use_term_lists(remote);
    const auto features =
        extractor.compute(mset, mset.size(), true, feedback, rerank::record_collapse_counts(db_, expanded, mset, mset.size(), 1, !remote),
                          model_.feedback.docs == 0);
    std::vector<Candidate> out;
    std::size_t i = 0;
    for (auto it = mset.begin(); it != mset.end(); ++it, ++i)
      out.push_back({it.get_document().get_value(schema::kSlotRecordId), it.get_weight(), features[i]});
    return out;
  } catch (const Xapian::Error& e) {
    return corpus::error_from_xapian(e, "candidates");
  }
}

void Searcher::note_missing(bool& partial, std::vector<std::string>& missing_shards) const {
  partial = shards_ && !shards_->missing().empty();
  missing_shards = partial ? shards_->missing() : std::vector<std::string>();
}

Result<schema::StoredPassage> Searcher::passage(const std::string& passage_id) {
  if (!corpus::is_valid_utf8(passage_id) || passage_id.empty() || passage_id.size() > 250)
    return make_error(ErrorCode::not_found, "no passage with id '" + passage_id + "'", "id");
  return guarded<schema::StoredPassage>("passage " + passage_id, [&]() -> Result<schema::StoredPassage> {
    const std::string id_term = schema::term(schema::kPrefixPassageId, passage_id);
    auto it = db_.postlist_begin(id_term);
    if (it == db_.postlist_end(id_term)) {
      // Not on the shards that answered: it may be on one that did not, so "not found" would
      // be a guess (and a client may drop a link it believes dead). A passage cannot be
      // partly there either: unavailable, naming every shard it may be on.
      if (shards_ && !shards_->missing().empty()) {
        std::string missing;
        for (const auto& shard : shards_->missing()) missing += (missing.empty() ? "" : ", ") + shard;
        return make_error(ErrorCode::unavailable,
                          "no passage with id '" + passage_id + "' on the shards that answered; it may be on " +
                              (shards_->missing().size() == 1 ? "shard " : "shards ") + missing +
                              ", which did not answer",
                          "shard");
      }
      return make_error(ErrorCode::not_found, "no passage with id '" + passage_id + "'", "id");
    }
    return schema::decode_document_data(schema::stored_document_data(db_.get_document(*it)));
  });
}

Result<IndexStats> Searcher::stats() {
  return guarded<IndexStats>("stats", [&]() -> Result<IndexStats> {
    IndexStats s;
    s.path = path_;
    s.passages = db_.get_doccount();
    for (std::size_t i = 0; i < std::size(corpus::kAllSources); ++i)
      s.passages_by_source[i] = db_.get_termfreq(schema::term(schema::kPrefixSource, corpus::to_string(corpus::kAllSources[i])));
    // Counting walks every record-id term (about 30 ms at 1M passages), and /health, /stats
    // and /metrics ask each server worker's Searcher: the count is kept, for the whole process,
    // by the index's names, UUID and each shard's revision (a copied folder keeps its UUID, and
    // its copy may be written to apart). Only for an index opened read-only here (a caller's
    // writable database shows changes before their commit, at the same revision).
    std::string counted_at;
    if (opened_read_only_) {
      if (const std::vector<Xapian::rev> revisions = shard_revisions(); !revisions.empty()) {
        for (const auto& name : shard_names_) counted_at += name + '\n';
        counted_at += db_.get_uuid();
        for (Xapian::rev r : revisions) counted_at += ' ' + std::to_string(r);
      }
    }
    static std::mutex counts_mutex;
    static std::unordered_map<std::string, std::uint64_t> counts;  // counted_at -> records
    std::optional<std::uint64_t> known;
    if (!counted_at.empty()) {
      std::lock_guard lock(counts_mutex);
      if (auto it = counts.find(counted_at); it != counts.end()) known = it->second;
    }
    if (known) {
      s.records = *known;
    } else {
      const std::string prefix(schema::kPrefixRecordId);
      for (auto t = db_.allterms_begin(prefix); t != db_.allterms_end(prefix); ++t) ++s.records;
      if (!counted_at.empty()) {
        std::lock_guard lock(counts_mutex);
        if (counts.size() >= 64) counts.clear();  // old revisions: bounded, counted again if asked
        counts.emplace(counted_at, s.records);
      }
    }
    if (shards_) {
      s.revision = shards_->revision();  // summed over the shards, as the indexer sums them
    } else {
      try {
        s.revision = db_.get_revision();
      } catch (const Xapian::UnimplementedError&) {
        s.revision = 0;  // the in-memory backend has no revisions
      } catch (const Xapian::InvalidOperationError&) {
        s.revision = 0;  // nor has a database of several shards
      }
    }
    s.average_length = db_.get_average_length();
    note_missing(s.partial, s.missing_shards);
    return s;
  });
}

std::string xapian_version() { return Xapian::version_string(); }

}  // namespace medsearch::searcher
