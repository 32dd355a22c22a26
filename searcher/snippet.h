// Snippets: the part of a passage that best shows why it matched, the question's words marked.
//
// Xapian's MSet::snippet reads the passage as written, so a word the index only knows in its
// analysed form went unmarked and did not count towards choosing the window: the index reads
// "TGF-β" as "tgf beta" (corpus::normalize_for_analysis), so "TGF beta signalling" found the
// passage but marked only "TGF". It also cost ~300,000 instructions a hit (~2,000 a word): a
// fifth of an everything-on SciFact search. This one reads each word as the index does (split
// by corpus::split_words, the indexer's own TermGenerator-exact splitting; the analysis
// normalisation for words with anything beyond ASCII; the index's stemmer) and remembers, per
// question, what each such word form it met matched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <xapian.h>

#include "corpus/vocabulary.h"

namespace medsearch::searcher {

class Snippeter {
 public:
  // `terms`: the question's terms as indexed ("Z" + stem, unstemmed forms, concept terms; those
  // no word can produce are never met) with a weight each (the rarer, the higher; > 0).
  // `stemmer` must be the index's (corpus::kStemLanguage); it is used from this thread only.
  Snippeter(const std::vector<std::pair<std::string, double>>& terms, Xapian::Stem stemmer);

  // At most `bytes` bytes of `text` (whole words; a single word longer than that is kept
  // whole), chosen to hold as many of the question's words as possible, the rarer counting more
  // (each distinct word fully, repeats a little), preferring to start where a sentence starts.
  // Matched words are wrapped in `<mark>` and `</mark>`, '&', '<' and '>' of the text are
  // escaped, and "…" stands for text left out before or after (none after a sentence's end).
  // A text that fits is returned whole, marked. bytes == 0 gives "".
  std::string operator()(std::string_view text, std::size_t bytes);

 private:
  struct Word {
    std::size_t begin;  // byte range in the text
    std::size_t end;
    int term;  // index into weights_, or -1
  };
  // The term a word of the text stands for, or -1: its lowercase form as split (ASCII), or
  // what the analysis makes of it as written (memoised).
  int term_of(const corpus::Word& word, std::string_view written);
  int lookup(const std::string& analysed);

  // Whether a lowercase ASCII word can stem to one of the terms, from its first two letters:
  // an English stem begins as its word does (the two first letters; the first alone for
  // a stem of one letter, "x's" -> "x"; Snowball's "dying", "lying", "tying" -> "die", "lie",
  // "tie" aside), so most words of a passage are ruled out without stemming.
  bool may_match(std::string_view lower) const;

  std::unordered_map<std::string, int> term_index_;  // query term -> index
  std::vector<bool> first_two_;   // [c0 * 256 + c1]: some term's stem begins c0 c1
  std::vector<bool> first_only_;  // [c0]: some term's stem is the one letter c0
  std::vector<std::int64_t> weights_;  // each term's weight x 1000, at least 1 (integer scores)
  Xapian::Stem stemmer_;
  std::unordered_map<std::string, int> seen_;  // word with characters beyond ASCII -> term or -1
  std::vector<Word> words_;                    // scratch, reused between calls
  std::vector<int> in_window_;                 // scratch: occurrences of each term in the window
};

}  // namespace medsearch::searcher
