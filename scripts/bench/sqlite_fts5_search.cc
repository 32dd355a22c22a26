// The SQLite FTS5 peer of scripts/bench-query.sh, over the table sqlite_fts5_index wrote
// (docs(id UNINDEXED, title, text), tokenize='porter unicode61'): per query
//   SELECT id, title, text FROM docs WHERE docs MATCH ?1 ORDER BY rank LIMIT 10
// where rank is FTS5's built-in bm25(), and the MATCH expression is the question's words, each
// quoted (so that FTS5's own syntax in a question cannot fail), joined by OR: a bag of words, as
// the other engines' default operator. One read-only connection and prepared statement per thread.
// Timed by the shared loop in query_loop.h.
//
// Build: g++ -O2 -std=c++17 -I. sqlite_fts5_search.cc $(pkg-config --cflags --libs sqlite3) -pthread
#include <sqlite3.h>

#include <iostream>
#include <memory>
#include <stdexcept>

#include "fts5_match.h"
#include "query_loop.h"

namespace {

struct Connection {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  explicit Connection(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT id, title, text FROM docs WHERE docs MATCH ?1 ORDER BY rank LIMIT 10", -1,
                           &stmt, nullptr) != SQLITE_OK)
      throw std::runtime_error(path + ": " + sqlite3_errmsg(db));
  }
  ~Connection() {
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }
};

}  // namespace

int main(int argc, char** argv) try {
  bench::Options o;
  if (!bench::parse_args(argc, argv, o)) {
    std::cerr << "usage: sqlite_fts5_search --index DB --queries FILE.tsv --out FILE [--threads N] "
                 "[--warmup P] [--passes T] [--budget-s S]\n";
    return 2;
  }
  return bench::run(o, [&]() -> bench::Engine {
    auto c = std::make_shared<Connection>(o.index);
    return [c](const std::string& text) {
      const std::string expr = bench::match_expression(text);
      if (expr.empty()) return 0;
      sqlite3_bind_text(c->stmt, 1, expr.data(), static_cast<int>(expr.size()), SQLITE_TRANSIENT);
      int hits = 0;
      std::size_t bytes = 0;
      int rc;
      while ((rc = sqlite3_step(c->stmt)) == SQLITE_ROW) {
        ++hits;
        for (int col = 0; col < 3; ++col) bytes += static_cast<std::size_t>(sqlite3_column_bytes(c->stmt, col));
      }
      sqlite3_reset(c->stmt);
      if (rc != SQLITE_DONE) return -1;
      return bytes == static_cast<std::size_t>(-1) ? 0 : hits;
    };
  });
} catch (const std::exception& e) {
  std::cerr << "sqlite_fts5_search: " << e.what() << "\n";
  return 2;
}
