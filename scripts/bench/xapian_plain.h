// The plain Xapian search of scripts/bench-query.sh's baseline (xapian_simplesearch.cc, timed)
// and of scripts/eval.sh --baseline xapian (xapian_trec_run.cc, ranked), as Xapian's
// examples/simplesearch.cc does it: QueryParser with the English stemmer (STEM_SOME, the
// default), the database set (for FLAG_DEFAULT's wildcards and synonyms), FLAG_DEFAULT, default
// operator OR; Enquire with BM25 (the default weighting). A question the parser rejects
// (QueryParserError, e.g. an unbalanced quote) is parsed again without the flags, as an
// application would.
#pragma once

#include <xapian.h>

#include <string>

namespace bench {

struct PlainXapian {
  Xapian::Database db;
  Xapian::Enquire enquire;
  Xapian::QueryParser parser;

  explicit PlainXapian(const std::string& path) : db(path), enquire(db) {
    parser.set_stemmer(Xapian::Stem("english"));
    parser.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
    parser.set_database(db);
  }

  Xapian::MSet search(const std::string& text, Xapian::doccount count) {
    Xapian::Query query;
    try {
      query = parser.parse_query(text);
    } catch (const Xapian::QueryParserError&) {
      query = parser.parse_query(text, 0);
    }
    enquire.set_query(query);
    return enquire.get_mset(0, count);
  }
};

}  // namespace bench
