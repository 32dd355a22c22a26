// Dictionary words for spelling correction: tokenised like the TermGenerator, lowercased.
#include "corpus/spelling.h"

#include <xapian.h>

#include "corpus/analysis.h"

namespace medsearch::corpus {

std::string lowercase_utf8(std::string_view text) {
  return Xapian::Unicode::tolower(std::string(text));
}

bool is_spelling_word(std::string_view word) {
  if (word.size() > kMaxSpellingWordBytes) return false;
  std::size_t chars = 0;
  for (Xapian::Utf8Iterator it(word.data(), word.size()); it != Xapian::Utf8Iterator(); ++it) {
    if (Xapian::Unicode::get_category(*it) == Xapian::Unicode::DECIMAL_DIGIT_NUMBER) return false;
    if (!Xapian::Unicode::is_wordchar(*it) || *it == '_') return false;
    ++chars;
  }
  return chars >= kMinSpellingWordChars;
}

void append_spelling_words(std::string_view text, std::vector<std::string>& out) {
  const std::string normalized = normalize_for_analysis(text);
  std::string word;
  auto flush = [&] {
    if (!word.empty()) {
      std::string lower = lowercase_utf8(word);
      if (is_spelling_word(lower)) out.push_back(std::move(lower));
      word.clear();
    }
  };
  for (Xapian::Utf8Iterator it(normalized); it != Xapian::Utf8Iterator(); ++it) {
    const unsigned ch = *it;
    // An apostrophe inside a word ("Gehrig's") joins it, as in the TermGenerator.
    if (Xapian::Unicode::is_wordchar(ch) || (ch == '\'' && !word.empty())) {
      Xapian::Unicode::append_utf8(word, ch);
    } else {
      flush();
    }
  }
  flush();
}

}  // namespace medsearch::corpus
