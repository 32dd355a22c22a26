// The plain Xapian BM25 baseline of scripts/eval.sh --baseline xapian: each query searched as
// scripts/bench-query.sh's plain loop (xapian_simplesearch.cc) searches it, over the index
// xapian_simpleindex writes from the same corpus.jsonl (whole documents, the title also under
// S), written as a TREC run (trec_run.h: arguments, errors, output).
//
//   xapian_trec_run INDEX QUERIES.jsonl RUN.txt [DEPTH]
//
// Build: g++ -O2 -std=c++17 -I. xapian_trec_run.cc $(pkg-config --cflags --libs xapian-core)
#include <xapian.h>

#include <memory>
#include <stdexcept>

#include "trec_run.h"
#include "xapian_plain.h"

int main(int argc, char** argv) {
  return bench::write_trec_run(argc, argv, "xapian_trec_run", "xapian-bm25", [](const std::string& index) {
    std::shared_ptr<bench::PlainXapian> s;
    try {
      s = std::make_shared<bench::PlainXapian>(index);
    } catch (const Xapian::Error& e) {  // not a std::exception
      throw std::runtime_error(e.get_description());
    }
    return [s](const std::string& text, int depth) {
      bench::Ranked out;
      try {
        const Xapian::MSet mset = s->search(text, static_cast<Xapian::doccount>(depth));
        for (auto m = mset.begin(); m != mset.end(); ++m)
          // xapian_simpleindex keeps the corpus line as the document's data.
          out.emplace_back(nlohmann::json::parse(m.get_document().get_data()).at("_id").get<std::string>(), m.get_weight());
      } catch (const Xapian::Error& e) {
        throw std::runtime_error(e.get_description());
      }
      return out;
    };
  });
}
