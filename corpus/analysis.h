// Text analysis shared by the index side and the query side, so that both see the same
// terms: ICU normalisation (NFKC, Greek letters, dashes, spaces) and the Xapian term
// generation / query parsing settings (stemmer, stop words) configured in one place.
#pragma once

#include <cstddef>
#include <string>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <xapian.h>

namespace medsearch::corpus {

// True if `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);
// Byte offset of the first invalid UTF-8 sequence, or npos.
std::size_t find_invalid_utf8(std::string_view text);

// Normalises text for display and storage: Unicode NFC, control characters removed,
// runs of white space (including no-break spaces) collapsed to one space, trimmed.
// Input must be valid UTF-8.
std::string clean_text(std::string_view text);
// Whether clean_text(text) would keep anything, without building it.
bool has_text(std::string_view text);

// `s` without the ASCII spaces, tabs, carriage returns and newlines at either end (the readers'
// and the vocabulary's field trimming; Unicode spaces are clean_text's business).
std::string_view trim_ascii_space(std::string_view s);

// Normalises text for analysis, identically on both sides: NFKC (full-width forms,
// superscripts, ligatures), Greek letters spelled out (β -> beta, α -> alpha, µ -> micro),
// every hyphen and dash to '-', soft hyphens removed, quotes to ASCII, white space folded.
// Case is kept: Xapian folds case itself, and the query parser needs AND/OR/NOT in capitals.
// Input must be valid UTF-8.
std::string normalize_for_analysis(std::string_view text);

// Sentence boundaries of `text` (ICU BreakIterator, English rules, with care for
// abbreviations that end in a full stop such as "e.g." and "Dr."), as byte ranges [begin, end)
// that cover the text without gaps.
std::vector<std::pair<std::size_t, std::size_t>> sentence_ranges(std::string_view text);

// The stemming language for index and query.
inline constexpr const char* kStemLanguage = "english";

// The English stemmer with a cache of word -> stem, for one thread (the cache is not locked):
// stemming is a large share of analysis time, and medical text repeats its vocabulary heavily.
// At most `max_words` words are kept; past that the cache starts again, so memory stays bounded
// (about 70 bytes a word). Stems are the plain stemmer's.
Xapian::Stem cached_stemmer(std::size_t max_words);
// The indexer's cap (a shard writer's vocabulary) and a searcher's (the words of its snippets).
inline constexpr std::size_t kIndexStemCacheWords = std::size_t{1} << 20;
inline constexpr std::size_t kSearchStemCacheWords = std::size_t{1} << 15;

// The words dropped from questions: English stop words and question boilerplate ("tell",
// "options").
const Xapian::Stopper& stopper();
// The same list, looked up without building a std::string (for hot loops over term lists).
bool is_stop_word(std::string_view word);
// The English stop words alone (without the boilerplate): the words the index leaves out where
// no question can ask for them (corpus::unindexed_words, corpus/SCHEMA.md).
bool is_index_stop_word(std::string_view word);
// That list, in order.
std::span<const std::string_view> index_stop_words();

// Configures a TermGenerator the way the index expects: English stemmer, STEM_ALL_Z (every
// word indexed once, as a Z-prefixed stem with positions, so phrases work on stems).
void configure_term_generator(Xapian::TermGenerator& generator);

// Synonyms (Xapian's synonym table, expanded by the query parser). A name's key is what the
// parser looks up: "Z" + stem for one word ("Rilutek" -> "Zrilutek"), the lowercased words
// joined by spaces for several ("lou gehrig's disease"). A name's term is what it is indexed as:
// "Z" + stem for one word, empty for several (a synonym must be a single term).
std::string synonym_key(std::string_view name, const Xapian::Stem& stemmer);
std::string synonym_term(std::string_view name, const Xapian::Stem& stemmer);

// Configures a QueryParser to match configure_term_generator (stemmer, strategy, stopper,
// field prefixes such as title:).
void configure_query_parser(Xapian::QueryParser& parser);

}  // namespace medsearch::corpus
