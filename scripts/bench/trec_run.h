// The run writer shared by the C++ baselines of scripts/eval.sh --baseline (xapian_trec_run.cc,
// sqlite_fts5_trec_run.cc; LuceneTrecRun.java does the same in Java):
//
//   TOOL INDEX QUERIES.jsonl RUN.txt [DEPTH]     (DEPTH: 1-10000, default 100)
//
// Each query of a BEIR queries.jsonl ({"_id": ..., "text": ...}) searched, its best DEPTH
// documents written as TREC run lines "QID Q0 DOCID RANK SCORE TAG". A line that is not a query
// object is reported as FILE:LINE and skipped, and the run goes on. Exit 0, 1 when a line was
// skipped, 2 for usage and I/O errors.
#pragma once

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace bench {

// (document id, score) best first, at most `depth`.
using Ranked = std::vector<std::pair<std::string, double>>;
using RunSearch = std::function<Ranked(const std::string& text, int depth)>;
// Opens INDEX and returns the search; throws on failure.
using OpenSearch = std::function<RunSearch(const std::string& index)>;

inline int write_trec_run(int argc, char** argv, const std::string& tool, const std::string& tag, const OpenSearch& open) {
  if (argc < 4 || argc > 5) {
    std::cerr << "usage: " << tool << " INDEX QUERIES.jsonl RUN.txt [DEPTH]\n";
    return 2;
  }
  const std::string queries_path = argv[2], run_path = argv[3];
  char* end = nullptr;
  const long depth = argc == 5 ? std::strtol(argv[4], &end, 10) : 100;
  if (argc == 5 && (*end != '\0' || depth < 1 || depth > 10000)) {
    std::cerr << tool << ": DEPTH must be a whole number from 1 to 10000\n";
    return 2;
  }
  try {
    const RunSearch search = open(argv[1]);
    std::ifstream in(queries_path, std::ios::binary);
    if (!in) {
      std::cerr << tool << ": cannot read " << queries_path << "\n";
      return 2;
    }
    std::ofstream out(run_path, std::ios::binary);
    if (!out) {
      std::cerr << tool << ": cannot write " << run_path << "\n";
      return 2;
    }
    out << std::setprecision(12);
    std::string line;
    unsigned long lineno = 0, run = 0, skipped = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      std::string id, text;
      try {
        const nlohmann::json query = nlohmann::json::parse(line);
        id = query.at("_id").get<std::string>();
        text = query.at("text").get<std::string>();
      } catch (const nlohmann::json::exception& e) {
        std::cerr << queries_path << ":" << lineno << ": " << e.what() << "\n";
        ++skipped;
        continue;
      }
      int rank = 0;
      for (const auto& [doc, score] : search(text, static_cast<int>(depth)))
        out << id << " Q0 " << doc << ' ' << ++rank << ' ' << score << ' ' << tag << '\n';
      ++run;
    }
    out.close();
    if (!out) {
      std::cerr << tool << ": cannot write " << run_path << "\n";
      return 2;
    }
    std::cerr << tool << ": " << run << " queries run, " << skipped << " lines skipped\n";
    return skipped > 0 ? 1 : 0;
  } catch (const std::exception& e) {
    std::cerr << tool << ": " << e.what() << "\n";
    return 2;
  }
}

}  // namespace bench
