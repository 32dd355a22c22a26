// medsearch through its library, for scripts/bench-query.sh: one searcher::Searcher per thread
// (as the server keeps one per worker), each query a SearchRequest with top 10, timed by the
// shared loop in query_loop.h. Engine options:
//   --snippets BYTES   SearchRequest::snippet_bytes (default 300, the default; 0 = off)
//   --facets 0|1       SearchRequest::facets (default 1: on, as the server's /search has them)
//   --rerank 0|1       SearchRequest::rerank (default 1, the default)
//   --rerank-model F   a model file as medsearch-train writes it (default: the shipped one)
//   --helper 0|1       Searcher::set_helper_thread (default 1, the library's default: the facet
//                      count on a second thread)
//   --server-work 0|1  also what the server does around each search (default 0): reopen the
//                      searcher first, then group the answer and serialise the JSON body
// Everything else is the library's default (intent boost on, one passage per record).
// At the end it prints the mean time per stage of the searches (SearchResponse::timings,
// warm-up included) to stderr: where a search's time goes.
// Built by CMake (scripts/bench/CMakeLists.txt) because it links medsearch_searcher.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>

#include "scripts/bench/query_loop.h"
#include "searcher/answer.h"
#include "searcher/rerank.h"
#include "searcher/searcher.h"

int main(int argc, char** argv) {
  bench::Options o;
  if (!bench::parse_args(argc, argv, o)) {
    std::cerr << "usage: medsearch-query-bench --index DIR --queries FILE.tsv --out FILE [--threads N] "
                 "[--warmup P] [--passes T] [--budget-s S] [--snippets BYTES] [--facets 0|1] [--rerank 0|1] [--rerank-model FILE] [--helper 0|1] [--server-work 0|1]\n";
    return 2;
  }
  const std::size_t snippets = std::strtoul(o.get("snippets", "300").c_str(), nullptr, 10);
  const bool facets = o.get("facets", "1") != "0";
  const bool rerank = o.get("rerank", "1") != "0";
  const bool server_work = o.get("server-work", "0") != "0";
  const bool helper = o.get("helper", "1") != "0";
  std::optional<medsearch::searcher::rerank::Model> model;
  if (const std::string path = o.get("rerank-model", ""); !path.empty()) {
    auto loaded = medsearch::searcher::rerank::Model::load(path);
    if (!loaded.ok()) {
      std::cerr << "medsearch-query-bench: " << loaded.error().message << "\n";
      return 2;
    }
    model = std::move(*loaded);
  }
  std::atomic<std::size_t> refused{0};
  std::mutex stages_mutex;
  medsearch::searcher::StageTimings stages;
  std::size_t timed = 0;
  auto print_stages = [&] {
    if (timed == 0) return;
    const double n = static_cast<double>(timed);
    std::fprintf(stderr,
                 "stages_ms_mean searches %zu parse %.2f feedback %.2f match %.2f rerank %.2f spelling %.2f output %.2f\n",
                 timed, stages.parse / n, stages.feedback / n, stages.match / n, stages.rerank / n, stages.spelling / n,
                 stages.output / n);
  };
  try {
    const int rc = bench::run(o, [&]() -> bench::Engine {
      auto opened = medsearch::searcher::Searcher::open(o.index);
      if (!opened.ok()) throw std::runtime_error(opened.error().message);
      std::shared_ptr<medsearch::searcher::Searcher> searcher(std::move(*opened));
      if (model) searcher->set_model(*model);
      searcher->set_helper_thread(helper);
      return [searcher, snippets, facets, rerank, server_work, &refused, &stages_mutex, &stages,
              &timed](const std::string& text) {
        if (server_work && !searcher->reopen().ok()) return -1;
        medsearch::searcher::SearchRequest request;
        request.query = text;
        request.limit = 10;
        request.snippet_bytes = snippets;
        request.facets = facets;
        request.rerank = rerank;
        auto response = searcher->search(request);
        if (!response.ok()) {
          if (refused++ < 5) std::cerr << "medsearch-query-bench: refused: " << response.error().message << "\n";
          return -1;
        }
        {
          std::lock_guard lock(stages_mutex);
          stages += response->timings;
          ++timed;
        }
        if (server_work) {
          const std::string body =
              medsearch::searcher::to_json(*response, medsearch::searcher::build_answer(*response)).dump();
          return body.empty() ? -1 : static_cast<int>(response->hits.size());
        }
        std::size_t bytes = 0;  // touch what a caller would read
        for (const auto& hit : response->hits) bytes += hit.snippet.size() + hit.stored.passage.text.size();
        return bytes == static_cast<std::size_t>(-1) ? 0 : static_cast<int>(response->hits.size());
      };
    });
    print_stages();
    return rc;
  } catch (const std::exception& e) {
    std::cerr << "medsearch-query-bench: " << e.what() << "\n";
    return 2;
  }
}
