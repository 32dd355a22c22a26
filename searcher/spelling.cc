// Query-side spelling correction over Xapian's spelling table.
#include "searcher/spelling.h"

#include "corpus/analysis.h"
#include "corpus/spelling.h"

namespace medsearch::searcher {

namespace {

// Xapian 1.4 has no get_spelling_frequency(); skip_to on the spelling list finds the word.
bool in_dictionary(const Xapian::Database& db, const std::string& word) {
  Xapian::TermIterator it = db.spellings_begin();
  it.skip_to(word);
  return it != db.spellings_end() && *it == word;
}

bool is_syntax_word(const std::string& word) {
  return word == "AND" || word == "OR" || word == "NOT" || word == "NEAR" || word == "ADJ" || word == "XOR";
}

}  // namespace

std::optional<std::string> spelling_suggestion(const std::string& question, const Xapian::Database& db,
                                               const Xapian::Stem& stemmer) {
  return spelling_suggestion(question, db, db, stemmer);
}

std::optional<std::string> spelling_suggestion(const std::string& question, const Xapian::Database& db,
                                               const Xapian::Database& dictionary, const Xapian::Stem& stemmer) {
  const std::string text = corpus::normalize_for_analysis(question);
  const Xapian::Stopper& stop = corpus::stopper();
  std::string out;
  bool changed = false;
  std::string word;
  auto flush = [&](unsigned next) {
    if (word.empty()) return;
    std::string replacement = word;
    const std::string lower = corpus::lowercase_utf8(word);
    // A word followed by ':' is a field prefix (title:, drug:), not a word to search.
    const bool prefix = next == ':';
    if (!prefix && !is_syntax_word(word) && corpus::is_spelling_word(lower) && !stop(lower) &&
        !in_dictionary(dictionary, lower) && db.get_termfreq(std::string("Z").append(stemmer(lower))) == 0) {
      std::size_t length = 0;
      for (Xapian::Utf8Iterator it(lower); it != Xapian::Utf8Iterator(); ++it) ++length;
      const std::string suggestion = dictionary.get_spelling_suggestion(lower, length <= 5 ? 1 : 2);
      if (!suggestion.empty() && suggestion != lower) {
        replacement = suggestion;
        changed = true;
      }
    }
    out += replacement;
    word.clear();
  };
  for (Xapian::Utf8Iterator it(text); it != Xapian::Utf8Iterator(); ++it) {
    const unsigned ch = *it;
    if (Xapian::Unicode::is_wordchar(ch)) {
      Xapian::Unicode::append_utf8(word, ch);
    } else {
      flush(ch);
      Xapian::Unicode::append_utf8(out, ch);
    }
  }
  flush(0);
  if (!changed) return std::nullopt;
  return out;
}

}  // namespace medsearch::searcher
