// "Did you mean": a corrected question from the spelling dictionary the indexer builds from
// titles, headings, drug and condition names (corpus/spelling.h).
#pragma once

#include <optional>
#include <string>

#include <xapian.h>

namespace medsearch::searcher {

// The question with each misspelt word replaced by Xapian's best suggestion, or nullopt when
// nothing needs correcting. A word is corrected only when it is a dictionary-shaped word
// (letters, at least 4 of them), is not a stop word, is not in the dictionary and matches no
// passage (its stem indexes nothing), so rare but real words are left alone. Words of query
// syntax (AND, OR, NOT, field prefixes such as title:) are kept. Edit distance 1 for words of
// up to 5 letters, 2 for longer ones. Works over sharded indexes (Xapian merges the shards'
// dictionaries). The result is the normalised question (normalize_for_analysis) with the
// corrected words lowercased. May throw Xapian::Error.
std::optional<std::string> spelling_suggestion(const std::string& question, const Xapian::Database& db,
                                               const Xapian::Stem& stemmer);
// The same with the dictionary in another database than the passages: the lexicon of an
// index with remote shards (searcher/shards.h), since Xapian 1.4's remote backend has no
// spelling table. `db` still decides which words match passages.
std::optional<std::string> spelling_suggestion(const std::string& question, const Xapian::Database& db,
                                               const Xapian::Database& dictionary, const Xapian::Stem& stemmer);

}  // namespace medsearch::searcher
