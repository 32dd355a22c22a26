// medsearch-eval: scores a TREC run against qrels (nDCG@10, Recall@100, MRR@10), with the
// same definitions as trec_eval (-c: judged queries missing from the run score 0).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "searcher/evaluation.h"

namespace ms = medsearch::searcher;

int main(int argc, char** argv) {
  CLI::App app{"medsearch-eval: nDCG@10, Recall@100 and MRR@10 of a TREC run"};
  std::string qrels_path;
  std::string run_path;
  bool per_query = false;
  app.add_option("--qrels", qrels_path, "qrels: BEIR TSV (with header) or TREC format")->required();
  app.add_option("--run", run_path, "TREC run file")->required();
  app.add_flag("--per-query", per_query, "print each query's scores too");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 2 as the README says (CLI11's own codes are 105, 106, ...); --help 0.
    return app.exit(e) == 0 ? 0 : 2;
  }

  auto qrels = ms::read_qrels(qrels_path);
  if (!qrels.ok()) {
    std::cerr << "medsearch-eval: " << qrels.error().message << "\n";
    return 2;
  }
  auto run = ms::read_run(run_path);
  if (!run.ok()) {
    std::cerr << "medsearch-eval: " << run.error().message << "\n";
    return 2;
  }
  const ms::Evaluation e = ms::evaluate(*qrels, *run);
  // Scores of 0 from a run that could not match the qrels look like a bad system, not a bad
  // input: say when the run is empty or its query ids are not the judged ones.
  std::size_t unjudged = 0;
  std::string first_unjudged;
  for (const auto& [qid, entries] : *run) {
    if (e.per_query.count(qid)) continue;
    if (unjudged++ == 0) first_unjudged = qid;
  }
  if (run->empty()) {
    std::cerr << "medsearch-eval: note: " << run_path << " has no run lines: every judged query scores 0\n";
  } else if (unjudged == run->size()) {
    std::cerr << "medsearch-eval: note: none of the " << run->size() << " queries of " << run_path
              << " has a relevant document in " << qrels_path << " (the first is " << first_unjudged
              << "): every judged query scores 0; are these the query ids of the qrels?\n";
  } else if (unjudged > 0) {
    std::cerr << "medsearch-eval: note: " << unjudged << " of the " << run->size() << " queries of " << run_path
              << " have no relevant document in " << qrels_path << " and are not scored (the first is " << first_unjudged
              << ")\n";
  }
  if (per_query) {
    for (const auto& [qid, s] : e.per_query)
      std::printf("%s\tndcg_cut_10=%.4f\trecall_100=%.4f\trecip_rank_10=%.4f\n", qid.c_str(), s.ndcg10, s.recall100, s.mrr10);
  }
  std::printf("queries\t%zu\nqueries_without_results\t%zu\nndcg_cut_10\t%.4f\nrecall_100\t%.4f\nrecip_rank_10\t%.4f\n",
              e.queries, e.queries_without_run, e.mean.ndcg10, e.mean.recall100, e.mean.mrr10);
  return 0;
}
