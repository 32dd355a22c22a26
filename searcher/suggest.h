// Autocomplete for drug and condition names, from the index's XD and XC boolean terms.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <xapian.h>

#include "corpus/result.h"

namespace medsearch::searcher {

inline constexpr int kMaxSuggestions = 50;
inline constexpr std::size_t kMaxSuggestPrefixBytes = 100;
// Names examined per kind at most (in term order) before ranking: bounds the work of a
// one-letter prefix over a very large index.
inline constexpr std::size_t kMaxSuggestScan = 10000;

struct Suggestion {
  std::string text;   // the name as indexed: ASCII-lowercased ("riluzole", "amyotrophic lateral sclerosis")
  std::string kind;   // "drug" or "condition"
  std::uint64_t count = 0;  // passages that carry the name (Xapian's term frequency)
};

struct SuggestResponse {
  std::string prefix;
  std::vector<Suggestion> suggestions;  // count desc, then text asc, then kind
  // Shards that did not answer, left out of these names and counts (only with
  // ShardOptions::partial), as in SearchResponse.
  bool partial = false;
  std::vector<std::string> missing_shards;
};

// Names starting with `prefix` (compared ASCII-case-insensitively, as names are indexed
// lowercased). Errors: invalid_argument with param "prefix" (empty, over
// kMaxSuggestPrefixBytes, invalid UTF-8) or "limit" (outside 1..kMaxSuggestions). Works over
// sharded indexes (allterms merges the shards). May throw Xapian::Error.
corpus::Result<SuggestResponse> suggest_names(const Xapian::Database& db, const std::string& prefix, int limit);

nlohmann::json suggest_to_json(const SuggestResponse& response);

}  // namespace medsearch::searcher
