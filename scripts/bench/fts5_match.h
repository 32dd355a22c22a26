// The MATCH expression of the SQLite FTS5 peer (sqlite_fts5_search.cc, sqlite_fts5_trec_run.cc):
// the question's words, each quoted (so that FTS5's own syntax in a question cannot fail),
// joined by OR: a bag of words, as the other engines' default operator.
#pragma once

#include <cctype>
#include <string>

namespace bench {

// Words: runs of ASCII letters and digits and any non-ASCII bytes (unicode61 splits the rest).
inline std::string match_expression(const std::string& text) {
  std::string out, word;
  auto flush = [&] {
    if (word.empty()) return;
    if (!out.empty()) out += " OR ";
    out += '"' + word + '"';
    word.clear();
  };
  for (unsigned char c : text) {
    if (std::isalnum(c) || c >= 0x80) word += static_cast<char>(c);
    else flush();
  }
  flush();
  return out;
}

}  // namespace bench
