// The words of Xapian's spelling dictionary, chosen the same way on both sides: the indexer
// adds them (WritableDatabase::add_spelling), the searcher corrects query words against them
// (Database::get_spelling_suggestion).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace medsearch::corpus {

// Shortest word, in code points, that goes into the dictionary or is corrected: shorter words
// are mostly abbreviations ("ALS", "HbA1c"), where an edit distance of 1 or 2 names another one.
inline constexpr std::size_t kMinSpellingWordChars = 4;
// Longest word, in bytes, that goes into the dictionary: TermGenerator's default
// max_word_length, beyond which words are not indexed either. Xapian refuses a spelling key
// over 255 bytes only when it commits, which would fail the whole commit.
inline constexpr std::size_t kMaxSpellingWordBytes = 64;

// Appends the dictionary words of `text` to `out`: the text goes through
// normalize_for_analysis, is split into words as Xapian's TermGenerator splits them (at
// hyphens too), lowercased (Unicode); words with digits, fewer than kMinSpellingWordChars
// code points or more than kMaxSpellingWordBytes bytes are left out. Valid UTF-8 in.
void append_spelling_words(std::string_view text, std::vector<std::string>& out);

// One word (a token of a query): true if it is one the dictionary could hold, i.e. letters
// only, at least kMinSpellingWordChars code points and at most kMaxSpellingWordBytes bytes.
bool is_spelling_word(std::string_view lowercase_word);

// Lowercases UTF-8 text with Xapian's Unicode tables.
std::string lowercase_utf8(std::string_view text);

}  // namespace medsearch::corpus
