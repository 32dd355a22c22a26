// The plain Xapian BM25 baseline of scripts/eval.sh --baseline: each query of a BEIR
// queries.jsonl searched as scripts/bench-query.sh's plain loop (xapian_simplesearch.cc) searches
// it, over the index xapian_simpleindex writes from the same corpus.jsonl (whole documents, the
// title also under S), and its best DEPTH documents written as a TREC run.
//
//   xapian_trec_run INDEX QUERIES.jsonl RUN.txt [DEPTH]     (DEPTH: 1-10000, default 100)
//
// A query the parser rejects is parsed again without its flags, as the plain loop does; a line
// that is not a query object is reported as FILE:LINE and skipped, and the run goes on. Exit 0,
// 1 when a line was skipped, 2 for usage and I/O errors.
//
// Build: g++ -O2 -std=c++17 xapian_trec_run.cc $(pkg-config --cflags --libs xapian-core)
#include <xapian.h>

#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

int main(int argc, char** argv) try {
  if (argc < 4 || argc > 5) {
    std::cerr << "usage: xapian_trec_run INDEX QUERIES.jsonl RUN.txt [DEPTH]\n";
    return 2;
  }
  const std::string queries_path = argv[2];
  char* end = nullptr;
  const long depth = argc == 5 ? std::strtol(argv[4], &end, 10) : 100;
  if (argc == 5 && (*end != '\0' || depth < 1 || depth > 10000)) {
    std::cerr << "xapian_trec_run: DEPTH must be a whole number from 1 to 10000\n";
    return 2;
  }
  Xapian::Database db(argv[1]);
  std::ifstream in(queries_path, std::ios::binary);
  if (!in) {
    std::cerr << "xapian_trec_run: cannot read " << queries_path << "\n";
    return 2;
  }
  std::ofstream out(argv[3], std::ios::binary);
  if (!out) {
    std::cerr << "xapian_trec_run: cannot write " << argv[3] << "\n";
    return 2;
  }
  Xapian::QueryParser parser;
  parser.set_stemmer(Xapian::Stem("english"));
  parser.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
  parser.set_database(db);
  Xapian::Enquire enquire(db);
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
    Xapian::Query query;
    try {
      query = parser.parse_query(text);
    } catch (const Xapian::QueryParserError&) {
      query = parser.parse_query(text, 0);
    }
    enquire.set_query(query);
    const Xapian::MSet mset = enquire.get_mset(0, static_cast<Xapian::doccount>(depth));
    int rank = 0;
    for (auto it = mset.begin(); it != mset.end(); ++it) {
      // xapian_simpleindex keeps the corpus line as the document's data.
      const std::string doc_id = nlohmann::json::parse(it.get_document().get_data()).at("_id").get<std::string>();
      out << id << " Q0 " << doc_id << ' ' << ++rank << ' ' << it.get_weight() << " xapian-bm25\n";
    }
    ++run;
  }
  out.close();
  if (!out) {
    std::cerr << "xapian_trec_run: cannot write " << argv[3] << "\n";
    return 2;
  }
  std::cerr << "xapian_trec_run: " << run << " queries run, " << skipped << " lines skipped\n";
  return skipped > 0 ? 1 : 0;
} catch (const Xapian::Error& e) {
  std::cerr << "xapian_trec_run: " << e.get_description() << "\n";
  return 2;
} catch (const std::exception& e) {
  std::cerr << "xapian_trec_run: " << e.what() << "\n";
  return 2;
}
