// The plain Xapian loop of scripts/bench-query.sh: what Xapian's examples/simplesearch.cc does,
// per query: QueryParser with the English stemmer (STEM_SOME, the default), the database set (for
// FLAG_DEFAULT's wildcards and synonyms), FLAG_DEFAULT, default operator OR, Enquire with BM25
// (the default weighting), get_mset(0, 10), and each hit's document data read. One Database and
// Enquire per thread. Timed by the shared loop in query_loop.h; reads the index written by
// xapian_simpleindex (bench-index.sh's baseline) from the same passages.
//
// A question the parser rejects (QueryParserError, e.g. an unbalanced quote) is parsed again
// without the flags, as an application would; it is not counted as an error.
//
// Build: g++ -O2 -std=c++17 -I. xapian_simplesearch.cc $(pkg-config --cflags --libs xapian-core) -pthread
#include <xapian.h>

#include <iostream>
#include <memory>

#include "query_loop.h"

int main(int argc, char** argv) try {
  bench::Options o;
  if (!bench::parse_args(argc, argv, o)) {
    std::cerr << "usage: xapian_simplesearch --index DIR --queries FILE.tsv --out FILE [--threads N] "
                 "[--warmup P] [--passes T] [--budget-s S]\n";
    return 2;
  }
  return bench::run(o, [&]() -> bench::Engine {
    struct State {
      Xapian::Database db;
      Xapian::Enquire enquire;
      Xapian::QueryParser parser;
      explicit State(const std::string& path) : db(path), enquire(db) {
        parser.set_stemmer(Xapian::Stem("english"));
        parser.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
        parser.set_database(db);
      }
    };
    auto s = std::make_shared<State>(o.index);
    return [s](const std::string& text) {
      Xapian::Query query;
      try {
        query = s->parser.parse_query(text);
      } catch (const Xapian::QueryParserError&) {
        query = s->parser.parse_query(text, 0);
      }
      s->enquire.set_query(query);
      Xapian::MSet mset = s->enquire.get_mset(0, 10);
      std::size_t bytes = 0;
      for (auto it = mset.begin(); it != mset.end(); ++it) bytes += it.get_document().get_data().size();
      return bytes == static_cast<std::size_t>(-1) ? 0 : static_cast<int>(mset.size());
    };
  });
} catch (const Xapian::Error& e) {
  std::cerr << "xapian_simplesearch: " << e.get_description() << "\n";
  return 2;
}
