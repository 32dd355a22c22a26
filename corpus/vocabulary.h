// The medical vocabulary: concepts (diseases, drugs, tests, procedures, ...) with the names
// they go by — preferred names, abbreviations, lay names, brand names — read from a small
// TSV file (corpus/vocabulary/medical.tsv, compiled into the library). The indexer tags each
// passage with the concepts it names (`XY<id>` terms) and writes every unambiguous name into
// Xapian's synonym table, so "Lou Gehrig's disease" finds passages that only say
// "amyotrophic lateral sclerosis".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <xapian.h>

#include "corpus/result.h"

namespace medsearch::corpus {

struct Concept {
  std::string id;                  // [a-z0-9_]+, unique: the concept term is "XY" + id
  std::string kind;                // disease, symptom, drug, drug_class, test, procedure, ...
  std::vector<std::string> forms;  // as written in the file; forms[0] is the preferred name
};

// A name with several common meanings ("MS": multiple sclerosis, mass spectrometry, mitral
// stenosis). It is neither used to tag passages nor written to the synonym table; the query
// side may expand it with a lower weight.
struct AmbiguousForm {
  std::string form;                   // as written, e.g. "MS"
  std::string key;                    // its synonym key (see corpus::synonym_key), e.g. "Zms"
  std::vector<std::string> concepts;  // concept ids, in file order
};

// A word of normalised text as Xapian's TermGenerator splits it, with what the vocabulary
// needs to know about how it was written. Offsets are bytes into the text given.
struct Word {
  std::string lower;         // lowercased, as the TermGenerator indexes it ("gehrig's")
  std::size_t begin = 0;
  std::size_t end = 0;
  bool capitals = false;     // has a letter and no lowercase letter ("ALS", "T2DM")
  bool has_lower = false;    // has a lowercase letter
  bool joined = true;        // only spaces, hyphens, slashes or apostrophes since the previous word
};

// Splits normalised text into words with Xapian's TermGenerator rules (word characters,
// infixes such as "'" and "&", "1.5", acronyms written "U.S.", suffixes "+" and "#").
std::vector<Word> split_words(std::string_view text);

// What Xapian's TermGenerator, set up by configure_term_generator (English stems, STEM_ALL_Z, no
// stop words, no CJK n-grams), adds to `doc` for the text `words` were split from, given each
// word's stem (`stems[i]`, as the English stemmer gives it): "Z" + prefix + stem for each word,
// wdf 1 each, at positions *position + 1, *position + 2, ... (advancing *position), or without
// positions when `position` is null. Words longer than 64 bytes, or with an empty stem, are
// skipped and take no position, as TermGenerator skips them. The indexer splits each text once
// and both tags concepts and indexes words from that, instead of TermGenerator splitting it
// again; tests/vocabulary_test.cc checks the result against TermGenerator's on real corpora.
//
// With `left_out` (unindexed_words of the same words), the words it marks are not written but
// still take their position, so the words around them keep their distances and a phrase over
// the gap still matches (query side: searcher's quoted-phrase rewrite). Returns how many word
// occurrences were left out (the wdf they would have had).
Xapian::termcount index_words(Xapian::Document& doc, const std::vector<Word>& words,
                              const std::vector<std::string>& stems, std::string_view prefix,
                              Xapian::termpos* position, const std::vector<bool>* left_out = nullptr);

// The words of `text` (split_words(text)) the index leaves out: English stop words
// (is_index_stop_word) written in lowercase and standing between spaces or ordinary punctuation.
// A question can never ask for those: the query parser drops stop words, except inside a
// phrase, and the phrases it makes of unquoted text are words joined by one of . - / : \ @
// ("state-of-the-art", "and/or", "up-regulated"), so a stop word joined to a word that way is
// kept, as is one written in capitals ("vitamin A", "type I", "ALL"). Stop words are a third of
// the words of English prose and most of its positions; leaving them out makes indexing about
// a tenth cheaper and the index a tenth smaller (docs/PERFORMANCE.md).
std::vector<bool> unindexed_words(const std::vector<Word>& words, std::string_view text);

// True when Xapian splits CJK text into n-grams (the XAPIAN_CJK_NGRAM environment variable,
// which TermGenerator and QueryParser read): then split_words does not split as they do.
bool xapian_cjk_ngrams();

// With XAPIAN_CJK_NGRAM set, Xapian 1.4's TermGenerator writes each CJK n-gram as "Z" + prefix +
// n-gram (STEM_ALL_Z covers them), while its QueryParser searches prefix + n-gram (it never
// stems n-grams): as written, no CJK search would match. Moves every such term of `doc` to the
// name QueryParser searches, with its wdf and positions; other terms are left as they are.
// (A quoted CJK phrase still matches nothing: QueryParser asks for "Z" + each character at
// consecutive positions, and TermGenerator puts a bigram between them. Xapian 1.4's own.)
void move_cjk_ngrams_unstemmed(Xapian::Document& doc);

class Vocabulary {
 public:
  // Parses the vocabulary format (see corpus/vocabulary/README.md). `name` is used in error
  // messages. Every malformed line is reported, one per line of the message, as
  // "name:line: reason"; the code is `parse`. Thread-safe.
  static Result<Vocabulary> parse(std::string_view text, std::string_view name);

  // The concept ids named in `normalized` (text after normalize_for_analysis), each with the
  // number of times it is named, ordered by id. Matches whole words only, longest name first,
  // comparing English stems (so "heart attacks" names a heart attack), except that a short
  // abbreviation (one word, at most 5 letters, all capitals in the file) matches only a word
  // written the same in capitals beside a word with lowercase letters: "als" in Spanish text,
  // "ALL PATIENTS" in a shouted warning do not name a disease. Ambiguous names never match.
  // `stemmer` must be the English stemmer (one per thread; Xapian::Stem is not thread-safe).
  std::vector<std::pair<std::string, unsigned>> annotate(std::string_view normalized, const Xapian::Stem& stemmer) const;
  // The same over the words split_words(normalized) gives, with each word's English stem.
  std::vector<std::pair<std::string, unsigned>> annotate_words(const std::vector<Word>& words,
                                                               const std::vector<std::string>& stems) const;

  // Synonym-table entries {key, concept term}: every unambiguous form of every concept, keyed
  // as the query parser looks it up (corpus::synonym_key). Sorted, no duplicates.
  const std::vector<std::pair<std::string, std::string>>& synonym_entries() const { return synonyms_; }

  // The ambiguous forms, in file order.
  const std::vector<AmbiguousForm>& ambiguous() const { return ambiguous_; }

  // The concept a name stands for when it is one of a concept's unambiguous forms (compared
  // as annotate() compares words; case-insensitive), e.g. "Rilutek" -> "riluzole".
  std::optional<std::string> find(std::string_view name, const Xapian::Stem& stemmer) const;

  const std::vector<Concept>& concepts() const { return concepts_; }
  const Concept* concept_by_id(std::string_view id) const;

  // A stable hash of the vocabulary's text: stored in each database with its synonyms, and
  // part of every record's content hash, so a changed vocabulary re-tags every passage.
  std::uint64_t hash() const { return hash_; }

  // The concept term of an id: "XY" + id.
  static std::string term(std::string_view id);

 private:
  struct Form {
    std::vector<std::string> stems;  // stems of the lowercased words
    std::string exact;               // for an abbreviation matched in capitals: its lowercased word
    std::uint32_t concept_index = 0;
  };
  std::vector<Concept> concepts_;
  std::unordered_map<std::string, std::vector<Form>> by_first_stem_;  // longest form first
  std::unordered_map<std::string, std::uint32_t> by_id_;
  std::vector<std::pair<std::string, std::string>> synonyms_;
  std::vector<AmbiguousForm> ambiguous_;
  std::uint64_t hash_ = 0;
};

// The vocabulary shipped with medsearch (corpus/vocabulary/medical.tsv, compiled in), parsed
// once on first use. Immutable and safe to share between threads.
const Vocabulary& builtin_vocabulary();

// The text of the shipped vocabulary file.
std::string_view builtin_vocabulary_text();

}  // namespace medsearch::corpus
