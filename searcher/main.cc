// medsearch-search: answers a question from an index as grouped, cited passages (text or
// JSON), or runs a BEIR query file into a TREC run for evaluation.
// Exit status: 0 success, 1 the question refused or query lines rejected, 2 usage or I/O errors
// (bad option values, an index that cannot be opened).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "searcher/answer.h"
#include "searcher/mapped_reads.h"
#include "searcher/trec.h"

namespace ms = medsearch::searcher;
namespace mc = medsearch::corpus;

int main(int argc, char** argv) {
  CLI::App app{"medsearch-search: ranked, source-attributed passages for a clinical question"};
  std::string question;
  bool as_json = false;
  int limit = 10;
  int offset = 0;
  int per_record = 1;
  std::vector<std::string> sources;
  int year_from = 0;
  int year_to = 0;
  std::string queries_path;
  std::string run_path;
  std::string tag = "medsearch";
  std::vector<std::string> dbs;
  ms::ShardOptions shard_options;
  app.add_option("--db", dbs,
                 "index folder; repeat for shards searched as one index: folders, tcp://HOST:PORT (xapian-tcpsrv), "
                 "or a Xapian stub file")
      ->required()
      ->allow_extra_args(false);
  app.add_option("--lexicon", shard_options.lexicon,
                 "local database with the index's spellings and synonyms (medsearch-index --export-lexicon), for "
                 "remote shards");
  app.add_option("--shard-timeout-ms", shard_options.timeout_ms, "longest wait for a remote shard's answer")
      ->check(CLI::Range(1, 3600000));
  app.add_flag("--partial-results", shard_options.partial,
               "when a shard is down, answer from the others (the JSON says which are missing)");
  app.add_flag("--json", as_json, "print the answer as JSON (the /search response shape)");
  bool no_rerank = false;
  std::string model_path;
  app.add_option("--rerank-model", model_path, "rerank weights from medsearch-train (default: the shipped ones, with or without the semantic "
                 "feature as the index has a semantic model)");
  app.add_flag("--no-rerank", no_rerank, "first stage (BM25) only: no feedback, no second stage");
  app.add_option("--limit", limit, "passages to show (1-100); with --run, records per query (1-1000)");
  app.add_option("--offset", offset, "skip this many results");
  app.add_option("--per-record", per_record, "passages per record at most (0 = no limit)");
  app.add_option("--source", sources, "only these sources: guideline, fda_label, research")
      ->check(CLI::IsMember({"guideline", "fda_label", "research"}));
  app.add_option("--year-from", year_from, "only records from this year on (four digits, 1000-9999)");
  app.add_option("--year-to", year_to, "only records up to this year (four digits, 1000-9999)");
  app.add_option("--queries", queries_path, "BEIR queries.jsonl to run in batch (needs --run)");
  app.add_option("--run", run_path, "write a TREC run file here (needs --queries)");
  app.add_option("--tag", tag, "run tag for the TREC run file");
  std::string timings_path;
  app.add_option("--timings", timings_path,
                 "with --queries/--run: write each query's time and its stages here (TSV, milliseconds)");
  app.add_option("question", question, "the question");
  app.set_version_flag("--version", std::string("medsearch-search ") + MEDSEARCH_VERSION);
  bool limit_given = false;
  bool question_given = false;
  try {
    app.parse(argc, argv);
    limit_given = app.count("--limit") > 0;
    question_given = app.count("question") > 0;
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (queries_path.empty() != run_path.empty()) {
    std::cerr << "medsearch-search: --queries and --run go together\n";
    return 2;
  }
  if (!timings_path.empty() && queries_path.empty()) {
    std::cerr << "medsearch-search: --timings goes with --queries and --run\n";
    return 2;
  }
  if (queries_path.empty() && !question_given) {
    std::cerr << "medsearch-search: give a question, or --queries FILE --run OUT\n";
    return 2;
  }
  if (!queries_path.empty()) {
    // A run ranks each query's records over the whole index, one passage a record: what only
    // shapes a single answer would be dropped in silence, so it is refused instead.
    if (question_given) {
      std::cerr << "medsearch-search: give a question or --queries FILE --run OUT, not both\n";
      return 2;
    }
    for (const char* option : {"--offset", "--per-record", "--source", "--year-from", "--year-to", "--json"}) {
      if (app.count(option) > 0) {
        std::cerr << "medsearch-search: " << option << " does not apply to --queries/--run (a run ranks "
                  << "whole records over the whole index)\n";
        return 2;
      }
    }
  }

  // One question reads most of its blocks once: memory maps pay for their page faults and
  // mappings only when blocks are read again, as over a batch (a one-shot search took 68-75 ms
  // with them against 58-64 ms without at 100k passages). MEDSEARCH_MAP_MB still decides when set.
  if (queries_path.empty() && std::getenv("MEDSEARCH_MAP_MB") == nullptr) ms::mapped_reads::enable(0);

  auto searcher = ms::Searcher::open(dbs, shard_options);
  if (!searcher.ok()) {
    std::cerr << "medsearch-search: " << searcher.error().message << "\n";
    return 2;
  }
  if (!model_path.empty()) {
    auto model = ms::rerank::Model::load(model_path);
    if (!model.ok()) {
      std::cerr << "medsearch-search: " << model.error().message << "\n";
      return 2;
    }
    (*searcher)->set_model(*model);
  }

  if ((*searcher)->lacks_lexicon())
    std::cerr << "medsearch-search: warning: remote shards without --lexicon: no synonyms, no spelling suggestions\n";

  if (!queries_path.empty()) {
    const int depth = limit_given ? limit : 100;
    if (depth < 1 || depth > 1000) {
      std::cerr << "medsearch-search: --limit must be between 1 and 1000 with --run\n";
      return 2;
    }
    auto report = [](const std::string& line) { std::cerr << line << "\n"; };
    std::size_t rejected = 0;  // query lines reported and skipped: exit 1, as the README says
    auto queries = ms::read_beir_queries(queries_path, [&rejected](const std::string& line) {
      ++rejected;
      std::cerr << line << "\n";
    });
    if (!queries.ok()) {
      std::cerr << "medsearch-search: " << queries.error().message << "\n";
      return 2;
    }
    std::ofstream out(run_path);
    if (!out) {
      std::cerr << "medsearch-search: " << run_path << ": cannot open for writing\n";
      return 2;
    }
    // Opened before the run, so that a path that cannot be written fails before the work.
    std::ofstream timings_out;
    if (!timings_path.empty()) {
      timings_out.open(timings_path);
      if (!timings_out) {
        std::cerr << "medsearch-search: " << timings_path << ": cannot open for writing\n";
        return 2;
      }
    }
    auto counts = ms::write_trec_run(**searcher, *queries, depth, tag, out, report, !no_rerank);
    out.close();
    if (!out) {
      std::cerr << "medsearch-search: " << run_path << ": write failed\n";
      return 2;
    }
    if (timings_out.is_open()) {
      ms::write_query_timings(counts, timings_out);
      timings_out.close();
      if (!timings_out) {
        std::cerr << "medsearch-search: " << timings_path << ": write failed\n";
        return 2;
      }
    }
    std::cerr << "queries " << counts.queries << ", failed " << counts.failed;
    if (rejected) std::cerr << ", rejected lines " << rejected;
    std::cerr << ", run lines " << counts.lines
              << " -> " << run_path << "\n";
    const std::vector<double> latency_ms = counts.latency_ms();
    char latency[320];
    std::snprintf(latency, sizeof latency, "latency ms per query: p50 %.2f, p95 %.2f, p99 %.2f, mean %.2f\n",
                  ms::percentile(latency_ms, 50), ms::percentile(latency_ms, 95), ms::percentile(latency_ms, 99),
                  latency_ms.empty() ? 0.0
                                     : std::accumulate(latency_ms.begin(), latency_ms.end(), 0.0) /
                                           static_cast<double>(latency_ms.size()));
    std::cerr << latency;
    if (!latency_ms.empty()) {
      const double n = static_cast<double>(latency_ms.size());
      const ms::StageTimings& t = counts.stage_ms;
      std::snprintf(latency, sizeof latency,
                    "mean ms per query by stage: parse %.2f, feedback %.2f, match %.2f, rerank %.2f, spelling %.2f, "
                    "output %.2f\n",
                    t.parse / n, t.feedback / n, t.match / n, t.rerank / n, t.spelling / n, t.output / n);
      std::cerr << latency;
    }
    return counts.failed || rejected ? 1 : 0;
  }

  ms::SearchRequest request;
  request.query = question;
  request.limit = limit;
  request.offset = offset;
  request.per_record = per_record;
  request.rerank = !no_rerank;
  // Only when given: an explicit --year-from 0 is checked (and refused) like --year-from 99.
  if (app.count("--year-from") > 0) request.year_from = year_from;
  if (app.count("--year-to") > 0) request.year_to = year_to;
  for (const auto& s : sources) request.sources.push_back(*mc::parse_source(s));
  auto response = (*searcher)->search(request);
  if (!response.ok()) {
    const auto& e = response.error();
    if (as_json) {
      nlohmann::json err = {{"error", {{"code", std::string(mc::to_string(e.code))}, {"message", e.message}}}};
      if (!e.param.empty()) err["error"]["param"] = e.param;
      std::cout << err.dump(2) << "\n";
    }
    std::cerr << "medsearch-search: " << e.message << "\n";
    // A question refused is 1; a bad option value (--limit 0, --offset -1, --year-from after
    // --year-to) is a usage error, 2, as a value that is not a number is.
    return e.code == mc::ErrorCode::invalid_argument && (e.param == "q" || e.param.empty()) ? 1 : 2;
  }
  if (response->partial) {
    std::string missing;
    for (const auto& shard : response->missing_shards) missing += (missing.empty() ? "" : ", ") + shard;
    std::cerr << "medsearch-search: partial answer: no reply from " << missing << "\n";
  }
  const ms::Answer answer = ms::build_answer(*response);
  if (as_json) {
    std::cout << ms::to_json(*response, answer).dump(2) << "\n";
  } else {
    std::cout << ms::format_answer_text(*response, answer, isatty(STDOUT_FILENO) != 0);
  }
  return 0;
}
