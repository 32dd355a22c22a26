// Answer shape: hits grouped by source in the order a clinical answer reads (guidelines,
// FDA label, research), with reference numbers and a references list.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "searcher/searcher.h"

namespace medsearch::searcher {

struct Reference {
  int number = 0;  // 1-based
  std::string record_id;
  Source source = Source::research;
  std::string title;
  corpus::Citation citation;
  std::string formatted;  // Citation::format
  std::string link;       // Citation::link
  std::string published;
  std::string updated;
  std::string review_status;
};

struct Group {
  Source source = Source::research;
  std::string label;          // "From the Guidelines", ...
  std::vector<int> hits;      // indexes into SearchResponse::hits, best first
  std::vector<int> refs;      // reference numbers of those hits, in the same order
};

struct Answer {
  std::vector<Group> groups;  // non-empty groups only, in kAllSources order
  std::vector<Reference> references;
  std::vector<int> hit_refs;  // reference number of each hit (parallel to hits)
};

// Hits per block of reference numbering: the default page of /search and of the web page.
inline constexpr std::size_t kReferenceBlock = 10;

// Groups hits (all of them, best first within a group) and numbers references in reading order
// block by block: the records of the first kReferenceBlock hits get 1, 2, ... in reading order
// (the guideline group first, then the label group, then research), those first cited in the
// next block the next numbers, in reading order again, and so on; a record cited twice keeps
// its first number. So the hits of a list whose length is a multiple of kReferenceBlock keep
// their numbers in any longer list of the same ranking ("Show more"), and a list of at most
// kReferenceBlock hits is numbered in plain reading order.
Answer build_answer(const SearchResponse& response);

// Prints the answer as text: a heading per group, each passage with its [n], then the
// references list. Used by medsearch-search.
// With `emphasis`, matched terms are shown in bold (ANSI escapes, for a terminal).
std::string format_answer_text(const SearchResponse& response, const Answer& answer, bool emphasis = false);

// The JSON shape of /search and `medsearch-search --json`:
// {query, parsed_query, total_estimate, took_ms, hits:[...], groups:[{source,label,ranks,refs}],
//  references:[...], warnings:[...], facets:{...}|null, spelling:{suggestion}, intent:{...}}
nlohmann::json to_json(const SearchResponse& response, const Answer& answer);
nlohmann::json reference_to_json(const Reference& reference);
nlohmann::json hit_to_json(const Hit& hit, int ref);
nlohmann::json passage_to_json(const corpus::schema::StoredPassage& stored);
nlohmann::json stats_to_json(const IndexStats& stats);
// Over shards with partial answers on, an answer from the shards that answered says so:
// `"partial": true` and `"missing_shards": [...]` are added to `out` when `missing_shards` is
// not empty, and nothing otherwise. Every read route's JSON (search, context, suggest, stats,
// health) uses it, so the two fields mean the same everywhere.
void add_missing_shards(nlohmann::json& out, const std::vector<std::string>& missing_shards);

}  // namespace medsearch::searcher
