// The SQLite FTS5 peer of scripts/bench-index.sh.
//
// One FTS5 table docs(id UNINDEXED, title, text) with tokenize='porter unicode61' (positions are
// always kept by FTS5: detail=full, the default), one transaction, one prepared INSERT reused for every
// record, the same JSON parser (nlohmann/json) as the plain Xapian loop so that parsing costs the same.
// No PRAGMAs: SQLite's defaults. A C++ loader rather than the sqlite3 CLI because the CLI has no
// JSONL reader (readfile + json_each wants one JSON array), and a prepared statement in one
// transaction is how an application bulk-loads FTS5.
//
//   sqlite_fts5_index DB FILE.jsonl   index FILE into the database file DB (must not exist)
//   sqlite_fts5_index --check DB      print "docs N" (select count(*) from docs)
//
// Build: g++ -O2 -std=c++17 sqlite_fts5_index.cc $(pkg-config --cflags --libs sqlite3)
#include <sqlite3.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct Db {
  sqlite3* handle = nullptr;
  ~Db() { sqlite3_close(handle); }
};

bool exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::cerr << "sqlite_fts5_index: " << sql << ": " << (message ? message : "error") << "\n";
    sqlite3_free(message);
    return false;
  }
  return true;
}

int check(const std::string& path) {
  Db db;
  if (sqlite3_open_v2(path.c_str(), &db.handle, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::cerr << "sqlite_fts5_index: " << path << ": " << sqlite3_errmsg(db.handle) << "\n";
    return 2;
  }
  sqlite3_stmt* count = nullptr;
  if (sqlite3_prepare_v2(db.handle, "SELECT count(*) FROM docs", -1, &count, nullptr) != SQLITE_OK ||
      sqlite3_step(count) != SQLITE_ROW) {
    std::cerr << "sqlite_fts5_index: " << path << ": " << sqlite3_errmsg(db.handle) << "\n";
    sqlite3_finalize(count);
    return 2;
  }
  std::cout << "docs " << sqlite3_column_int64(count, 0) << "\n";
  sqlite3_finalize(count);
  return 0;
}

int index(const std::string& path, const std::string& input) {
  std::ifstream in(input, std::ios::binary);
  if (!in) {
    std::cerr << "sqlite_fts5_index: cannot read " << input << "\n";
    return 2;
  }
  Db db;
  if (sqlite3_open_v2(path.c_str(), &db.handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    std::cerr << "sqlite_fts5_index: " << path << ": " << sqlite3_errmsg(db.handle) << "\n";
    return 2;
  }
  if (!exec(db.handle, "CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, text, tokenize='porter unicode61')"))
    return 2;
  if (!exec(db.handle, "BEGIN")) return 2;
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db.handle, "INSERT INTO docs(id, title, text) VALUES (?1, ?2, ?3)", -1, &insert, nullptr) !=
      SQLITE_OK) {
    std::cerr << "sqlite_fts5_index: " << sqlite3_errmsg(db.handle) << "\n";
    return 2;
  }

  std::string line;
  unsigned long long lineno = 0, indexed = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      std::cerr << input << ":" << lineno << ": " << e.what() << "\n";
      sqlite3_finalize(insert);
      return 2;
    }
    const std::string id = record.at("_id").get<std::string>();
    const std::string title = record.value("title", "");
    const std::string text = record.value("text", "");
    sqlite3_bind_text(insert, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert, 2, title.data(), static_cast<int>(title.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert, 3, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    if (sqlite3_step(insert) != SQLITE_DONE) {
      std::cerr << input << ":" << lineno << ": " << sqlite3_errmsg(db.handle) << "\n";
      sqlite3_finalize(insert);
      return 2;
    }
    sqlite3_reset(insert);
    sqlite3_clear_bindings(insert);
    ++indexed;
  }
  sqlite3_finalize(insert);
  if (!exec(db.handle, "COMMIT")) return 2;
  std::cerr << "sqlite_fts5_index: indexed " << indexed << " records\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc == 3 && std::string(argv[1]) == "--check") return check(argv[2]);
  if (argc != 3) {
    std::cerr << "usage: sqlite_fts5_index DB FILE.jsonl\n       sqlite_fts5_index --check DB\n";
    return 2;
  }
  return index(argv[1], argv[2]);
} catch (const std::exception& e) {
  std::cerr << "sqlite_fts5_index: " << e.what() << "\n";
  return 2;
}
