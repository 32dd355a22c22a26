// The plain Xapian loop of scripts/bench-query.sh: what Xapian's examples/simplesearch.cc does,
// per query: the search of xapian_plain.h (QueryParser with the English stemmer, Enquire with
// BM25), get_mset(0, 10), and each hit's document data read. One Database and
// Enquire per thread. Timed by the shared loop in query_loop.h; reads the index written by
// xapian_simpleindex (bench-index.sh's baseline) from the same passages.
// A question the parser rejects is parsed again without the flags; it is not counted as an
// error.
//
// Build: g++ -O2 -std=c++17 -I. xapian_simplesearch.cc $(pkg-config --cflags --libs xapian-core) -pthread
#include <xapian.h>

#include <iostream>
#include <memory>

#include "query_loop.h"
#include "xapian_plain.h"

int main(int argc, char** argv) try {
  bench::Options o;
  if (!bench::parse_args(argc, argv, o)) {
    std::cerr << "usage: xapian_simplesearch --index DIR --queries FILE.tsv --out FILE [--threads N] "
                 "[--warmup P] [--passes T] [--budget-s S]\n";
    return 2;
  }
  return bench::run(o, [&]() -> bench::Engine {
    auto s = std::make_shared<bench::PlainXapian>(o.index);
    return [s](const std::string& text) {
      Xapian::MSet mset = s->search(text, 10);
      std::size_t bytes = 0;
      for (auto it = mset.begin(); it != mset.end(); ++it) bytes += it.get_document().get_data().size();
      return bytes == static_cast<std::size_t>(-1) ? 0 : static_cast<int>(mset.size());
    };
  });
} catch (const Xapian::Error& e) {
  std::cerr << "xapian_simplesearch: " << e.get_description() << "\n";
  return 2;
}
