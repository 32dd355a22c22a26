// The SQLite FTS5 baseline of scripts/eval.sh --baseline fts5: each query searched as
// scripts/bench-query.sh's FTS5 loop (sqlite_fts5_search.cc) searches it, the question's words
// quoted and OR'ed (fts5_match.h), ranked by FTS5's bm25(), over the table sqlite_fts5_index
// writes from the same corpus.jsonl, written as a TREC run (trec_run.h: arguments, errors,
// output) with bm25()'s value negated as the score (FTS5 ranks the lowest first).
//
//   sqlite_fts5_trec_run INDEX QUERIES.jsonl RUN.txt [DEPTH]
//
// Build: g++ -O2 -std=c++17 -I. sqlite_fts5_trec_run.cc $(pkg-config --cflags --libs sqlite3)
#include <sqlite3.h>

#include <memory>
#include <stdexcept>

#include "fts5_match.h"
#include "trec_run.h"

namespace {

struct Connection {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  explicit Connection(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT id, rank FROM docs WHERE docs MATCH ?1 ORDER BY rank LIMIT ?2", -1, &stmt,
                           nullptr) != SQLITE_OK) {
      const std::string message = path + ": " + sqlite3_errmsg(db);
      sqlite3_close(db);
      throw std::runtime_error(message);
    }
  }
  ~Connection() {
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }
};

}  // namespace

int main(int argc, char** argv) {
  return bench::write_trec_run(argc, argv, "sqlite_fts5_trec_run", "fts5-bm25", [](const std::string& index) {
    auto c = std::make_shared<Connection>(index);
    return [c](const std::string& text, int depth) {
      bench::Ranked out;
      const std::string expr = bench::match_expression(text);
      if (expr.empty()) return out;
      sqlite3_bind_text(c->stmt, 1, expr.data(), static_cast<int>(expr.size()), SQLITE_TRANSIENT);
      sqlite3_bind_int(c->stmt, 2, depth);
      int rc;
      while ((rc = sqlite3_step(c->stmt)) == SQLITE_ROW)
        out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(c->stmt, 0)), -sqlite3_column_double(c->stmt, 1));
      sqlite3_reset(c->stmt);
      if (rc != SQLITE_DONE) throw std::runtime_error(std::string("query failed: ") + sqlite3_errmsg(c->db));
      return out;
    };
  });
}
