// Ranking evaluation with trec_eval's definitions: nDCG@k with linear gain (ndcg_cut),
// Recall@k, MRR@k (recip_rank cut at k). Used by medsearch-eval and the relevance tests.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "corpus/result.h"

namespace medsearch::searcher {

// qrels[query id][doc id] = graded relevance (> 0 is relevant).
using Qrels = std::map<std::string, std::map<std::string, int>>;

struct RunEntry {
  std::string doc;
  double score = 0;
};
// run[query id] = ranked documents.
using Run = std::map<std::string, std::vector<RunEntry>>;

// Reads BEIR qrels TSV (`query-id corpus-id score`, with a header line) or TREC qrels
// (`qid iter docno rel`). A line with another number of fields, or a relevance that is not a
// whole integer ('2x', '1.7'), is an error naming the line.
corpus::Result<Qrels> read_qrels(const std::string& path);
// Reads a TREC run (`qid Q0 docno rank score tag`). A document listed twice for one query is an
// error naming the line, as in trec_eval; so is a score that is not a whole finite number
// ('9abc', 'nan', 'inf').
corpus::Result<Run> read_run(const std::string& path);

struct QueryScores {
  double ndcg10 = 0;
  double recall100 = 0;
  double mrr10 = 0;
};

struct Evaluation {
  QueryScores mean;
  std::size_t queries = 0;              // judged queries (with at least one relevant document)
  std::size_t queries_without_run = 0;  // judged queries the run has nothing for (scored 0)
  std::map<std::string, QueryScores> per_query;
};

// Evaluates over every judged query; one missing from the run scores 0 (trec_eval -c).
// Documents are ordered as trec_eval orders them: score descending, then doc id descending.
Evaluation evaluate(const Qrels& qrels, const Run& run);

}  // namespace medsearch::searcher
