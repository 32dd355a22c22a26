// Prefix completion over the drug (XD) and condition (XC) terms.
#include "searcher/suggest.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "corpus/analysis.h"
#include "corpus/schema.h"
#include "corpus/xapian_error.h"
#include "searcher/answer.h"
#include "searcher/searcher.h"

namespace medsearch::searcher {

namespace schema = corpus::schema;
using corpus::ErrorCode;
using corpus::make_error;

corpus::Result<SuggestResponse> suggest_names(const Xapian::Database& db, const std::string& prefix, int limit) {
  if (prefix.empty()) return make_error(ErrorCode::invalid_argument, "prefix: is empty", "prefix");
  if (prefix.size() > kMaxSuggestPrefixBytes)
    return make_error(ErrorCode::invalid_argument,
                      "prefix: longer than " + std::to_string(kMaxSuggestPrefixBytes) + " bytes", "prefix");
  if (!corpus::is_valid_utf8(prefix))
    return make_error(ErrorCode::invalid_argument, "prefix: not valid UTF-8", "prefix");
  if (limit < 1 || limit > kMaxSuggestions)
    return make_error(ErrorCode::invalid_argument, "limit: must be between 1 and " + std::to_string(kMaxSuggestions),
                      "limit");
  std::string lower = prefix;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });

  SuggestResponse response;
  response.prefix = prefix;
  const std::pair<std::string_view, const char*> kinds[] = {{schema::kPrefixDrug, "drug"},
                                                             {schema::kPrefixCondition, "condition"}};
  for (const auto& [term_prefix, kind] : kinds) {
    const std::string start = std::string(term_prefix) + lower;
    std::size_t scanned = 0;
    for (auto it = db.allterms_begin(start); it != db.allterms_end(start) && scanned < kMaxSuggestScan; ++it, ++scanned) {
      std::string text = (*it).substr(term_prefix.size());
      if (!text.empty() && text[0] == ':') text.erase(0, 1);  // Omega's separator, never written for lowercase values
      response.suggestions.push_back({std::move(text), kind, it.get_termfreq()});
    }
  }
  std::sort(response.suggestions.begin(), response.suggestions.end(), [](const Suggestion& a, const Suggestion& b) {
    if (a.count != b.count) return a.count > b.count;
    if (a.text != b.text) return a.text < b.text;
    return a.kind < b.kind;
  });
  if (response.suggestions.size() > static_cast<std::size_t>(limit)) response.suggestions.resize(static_cast<std::size_t>(limit));
  return response;
}

Result<SuggestResponse> Searcher::suggest(const std::string& prefix, int limit) {
  return guarded<SuggestResponse>("suggest", [&] {
    auto response = suggest_names(db_, prefix, limit);
    if (response.ok()) note_missing(response->partial, response->missing_shards);
    return response;
  });
}

nlohmann::json suggest_to_json(const SuggestResponse& response) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : response.suggestions) list.push_back({{"text", s.text}, {"kind", s.kind}, {"count", s.count}});
  nlohmann::json out = {{"prefix", response.prefix}, {"suggestions", std::move(list)}};
  add_missing_shards(out, response.missing_shards);
  return out;
}

}  // namespace medsearch::searcher
