// Retrieval for an assistant: the best passages for a question (resolved against the
// conversation so far) that fit a token budget, diverse and cited, plus a ready prompt block.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "searcher/answer.h"
#include "searcher/intent.h"

namespace medsearch::searcher {

inline constexpr int kDefaultBudgetTokens = 1500;
inline constexpr int kMinBudgetTokens = 50;
inline constexpr int kMaxBudgetTokens = 16000;
inline constexpr std::size_t kMaxHistoryTurns = 20;
inline constexpr std::size_t kMaxAnswerBytes = 20000;
inline constexpr int kDefaultPassagesPerRecord = 2;
// Candidates examined, in rank order, before the budget is filled.
inline constexpr int kContextCandidates = 50;
// Two passages whose 3-word shingle sets have a Jaccard similarity at least this are
// near-duplicates; the lower-ranked one is left out.
inline constexpr double kNearDuplicateJaccard = 0.8;

// Tokens are estimated as bytes / 4, rounded up: close to what GPT- and Llama-style
// tokenisers give for English prose, and the same on every machine.
int estimate_tokens(std::string_view text);

struct ContextTurn {
  std::string question;
  std::string answer;  // optional: what the assistant answered
};

struct ContextRequest {
  std::string question;               // required, valid UTF-8, at most kMaxQueryBytes
  std::vector<ContextTurn> history;   // oldest first, at most kMaxHistoryTurns
  int budget_tokens = kDefaultBudgetTokens;  // kMinBudgetTokens..kMaxBudgetTokens
  std::vector<Source> sources;        // empty = all
  int per_record = kDefaultPassagesPerRecord;  // passages per record at most, 1..10
};

struct ContextPassage {
  int ref = 0;  // reference number (one per record, in order of first use)
  std::string passage_id;
  std::string record_id;
  Source source = Source::research;
  std::string section;
  std::string heading;
  std::string title;
  std::string text;
  std::string citation;  // the formatted reference line
  std::string url;
  double score = 0;
  int tokens = 0;  // of its entry in the prompt block
};

struct ContextResponse {
  std::string question;
  std::string resolved_query;  // what was searched: the question plus any topic carried over
  std::vector<std::string> carried;  // the topic carried from history (names or words)
  Intent intent;
  int budget_tokens = 0;
  int used_tokens = 0;  // estimate_tokens(prompt_block) <= budget_tokens
  std::vector<ContextPassage> passages;
  std::vector<Reference> references;
  std::string prompt_block;  // "[1] text\n(Source: citation)\n\n[2] ..."
  // Why the prompt block is empty or may be poor, said rather than left to silence: the
  // search's warnings, a spelling suggestion, nothing matched, no passage fits the budget.
  std::vector<std::string> warnings;
  double took_ms = 0;
  // Over shards with partial answers on: true when some shard did not answer (listed).
  bool partial = false;
  std::vector<std::string> missing_shards;
};

// Errors: invalid_argument naming the field ("question", "history", "budget_tokens",
// "sources", "per_record").
Status validate(const ContextRequest& request);

// Drug and condition names in `text` that the index knows (XD / XC terms), found as the
// longest runs of up to 6 words, in order of first mention, without repeats.
struct Topic {
  std::vector<std::string> drugs;
  std::vector<std::string> conditions;
  bool empty() const { return drugs.empty() && conditions.empty(); }
};
// `first_drug`: stop at the first drug named (what an earlier answer lends the next question).
Topic find_names(const std::string& text, const Xapian::Database& db, bool first_drug = false);

nlohmann::json context_to_json(const ContextResponse& response);

}  // namespace medsearch::searcher
