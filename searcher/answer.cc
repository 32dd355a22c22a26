// Answer shape: grouping by source, reference numbering, and the text and JSON renderings.
#include "searcher/answer.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

namespace medsearch::searcher {

using nlohmann::json;

Answer build_answer(const SearchResponse& response) {
  Answer answer;
  answer.hit_refs.assign(response.hits.size(), 0);
  std::map<std::string, int> ref_of_record;
  // Numbers go to records block by block of kReferenceBlock hits, in reading order within a
  // block: a longer list of the same ranking (a larger limit, "Show more") adds blocks after
  // the ones a reader has seen and leaves their numbers as they were. Numbering the whole list
  // in reading order moved them: a guideline at rank 15 took a number before every label and
  // paper of the first ten.
  const std::size_t n = response.hits.size();
  for (std::size_t block = 0; block < n; block += kReferenceBlock) {
    const std::size_t end = std::min(n, block + kReferenceBlock);
    for (Source source : corpus::kAllSources) {
      for (std::size_t i = block; i < end; ++i) {
        const auto& stored = response.hits[i].stored;
        if (stored.source != source) continue;
        auto [it, inserted] = ref_of_record.emplace(stored.passage.record_id, 0);
        if (inserted) {
          Reference ref;
          ref.number = static_cast<int>(answer.references.size()) + 1;
          ref.record_id = stored.passage.record_id;
          ref.source = stored.source;
          ref.title = stored.title;
          ref.citation = stored.citation;
          ref.formatted =
              stored.citation.format(stored.title.empty() ? "Record " + stored.passage.record_id : stored.title);
          ref.link = stored.citation.link();
          ref.published = stored.published;
          ref.updated = stored.updated;
          ref.review_status = stored.review_status;
          it->second = ref.number;
          answer.references.push_back(std::move(ref));
        }
        answer.hit_refs[i] = it->second;
      }
    }
  }
  for (Source source : corpus::kAllSources) {
    Group group;
    group.source = source;
    group.label = std::string(corpus::group_label(source));
    for (std::size_t i = 0; i < n; ++i) {
      if (response.hits[i].stored.source != source) continue;
      group.hits.push_back(static_cast<int>(i));
      group.refs.push_back(answer.hit_refs[i]);
    }
    if (!group.hits.empty()) answer.groups.push_back(std::move(group));
  }
  return answer;
}

namespace {

// The snippet is HTML; the terminal gets plain text with matches in bold where it can.
std::string snippet_to_text(const std::string& html, bool emphasis) {
  std::string out;
  for (std::size_t i = 0; i < html.size();) {
    if (html.compare(i, 6, "<mark>") == 0) {
      if (emphasis) out += "\x1b[1m";
      i += 6;
    } else if (html.compare(i, 7, "</mark>") == 0) {
      if (emphasis) out += "\x1b[0m";
      i += 7;
    } else if (html[i] == '&') {
      static const std::pair<const char*, char> kEntities[] = {
          {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}, {"&apos;", '\''}};
      bool matched = false;
      for (auto [name, ch] : kEntities) {
        std::size_t len = std::char_traits<char>::length(name);
        if (html.compare(i, len, name) == 0) {
          out += ch;
          i += len;
          matched = true;
          break;
        }
      }
      if (!matched) out += html[i++];
    } else {
      out += html[i++];
    }
  }
  return out;
}

}  // namespace

std::string format_answer_text(const SearchResponse& response, const Answer& answer, bool emphasis) {
  std::string out;
  out += "Q: " + response.query + "\n";
  for (const auto& w : response.warnings) out += "warning: " + w + "\n";
  if (response.hits.empty()) {
    out += "\nNo passages found.\n";
    return out;
  }
  char took[64];
  std::snprintf(took, sizeof took, "%.1f", response.took_ms);
  out += "About " + std::to_string(response.total_estimate) + " matching records; showing " +
         std::to_string(response.hits.size()) + " (" + took + " ms)\n";
  for (const Group& group : answer.groups) {
    out += "\n" + group.label + "\n";
    for (std::size_t k = 0; k < group.hits.size(); ++k) {
      const Hit& hit = response.hits[static_cast<std::size_t>(group.hits[k])];
      const auto& p = hit.stored.passage;
      out += "  [" + std::to_string(group.refs[k]) + "] " + (hit.stored.title.empty() ? p.record_id : hit.stored.title);
      if (!p.heading.empty()) out += " \u2014 " + p.heading;
      out += "\n";
      std::string text = hit.snippet.empty() ? p.text : snippet_to_text(hit.snippet, emphasis);
      out += "      " + text + "\n";
    }
  }
  out += "\nReferences\n";
  for (const Reference& ref : answer.references) {
    out += "  [" + std::to_string(ref.number) + "] " + ref.formatted;
    if (!ref.link.empty()) out += " " + ref.link;
    if (!ref.review_status.empty() && ref.review_status != "current") out += " (status: " + ref.review_status + ")";
    out += "\n";
  }
  return out;
}

json passage_to_json(const corpus::schema::StoredPassage& s) {
  json j;
  j["passage_id"] = s.passage.id;
  j["record_id"] = s.passage.record_id;
  j["source"] = std::string(corpus::to_string(s.source));
  j["title"] = s.title;
  j["section"] = s.passage.section;
  j["heading"] = s.passage.heading;
  j["text"] = s.passage.text;
  j["ordinal"] = s.passage.ordinal;
  j["offsets"] = {{"section_index", s.passage.section_index}, {"start", s.passage.start}, {"end", s.passage.end}};
  j["citation"] = corpus::citation_to_json(s.citation);
  j["year"] = s.year ? json(s.year) : json(nullptr);
  j["published"] = s.published.empty() ? json(nullptr) : json(s.published);
  j["updated"] = s.updated.empty() ? json(nullptr) : json(s.updated);
  j["evidence_level"] = s.evidence_level.empty() ? json(nullptr) : json(s.evidence_level);
  j["review_status"] = s.review_status.empty() ? json(nullptr) : json(s.review_status);
  j["drugs"] = s.drugs;
  j["conditions"] = s.conditions;
  return j;
}

json hit_to_json(const Hit& hit, int ref) {
  json j;
  j["rank"] = hit.rank;
  j["score"] = hit.score;
  j["ref"] = ref;
  json p = passage_to_json(hit.stored);
  for (auto& [key, value] : p.items()) j[key] = value;
  j["snippet"] = hit.snippet;
  return j;
}

json reference_to_json(const Reference& r) {
  return {{"number", r.number},
          {"record_id", r.record_id},
          {"source", std::string(corpus::to_string(r.source))},
          {"title", r.title},
          {"citation", corpus::citation_to_json(r.citation)},
          {"formatted", r.formatted},
          {"url", r.link.empty() ? json(nullptr) : json(r.link)},
          {"published", r.published.empty() ? json(nullptr) : json(r.published)},
          {"updated", r.updated.empty() ? json(nullptr) : json(r.updated)},
          {"review_status", r.review_status.empty() ? json(nullptr) : json(r.review_status)}};
}

json to_json(const SearchResponse& response, const Answer& answer) {
  json j;
  j["query"] = response.query;
  j["parsed_query"] = response.parsed_query;
  j["total_estimate"] = response.total_estimate;
  j["took_ms"] = response.took_ms;
  json hits = json::array();
  for (std::size_t i = 0; i < response.hits.size(); ++i) hits.push_back(hit_to_json(response.hits[i], answer.hit_refs[i]));
  j["hits"] = std::move(hits);
  json groups = json::array();
  for (const Group& g : answer.groups) {
    json ranks = json::array();
    for (int index : g.hits) ranks.push_back(response.hits[static_cast<std::size_t>(index)].rank);
    groups.push_back({{"source", std::string(corpus::to_string(g.source))}, {"label", g.label}, {"ranks", ranks}, {"refs", g.refs}});
  }
  j["groups"] = std::move(groups);
  json refs = json::array();
  for (const Reference& r : answer.references) refs.push_back(reference_to_json(r));
  j["references"] = std::move(refs);
  j["warnings"] = response.warnings;
  j["facets"] = response.facets ? facets_to_json(*response.facets) : json(nullptr);
  j["spelling"] = {{"suggestion", response.spelling ? json(*response.spelling) : json(nullptr)}};
  j["intent"] = intent_to_json(response.intent);
  // Only over shards with partial answers on: which shards this answer lacks.
  add_missing_shards(j, response.missing_shards);
  if (response.deadline_exceeded) j["deadline_exceeded"] = true;
  return j;
}

json stats_to_json(const IndexStats& s) {
  json by_source = json::object();
  for (std::size_t i = 0; i < std::size(corpus::kAllSources); ++i)
    by_source[std::string(corpus::to_string(corpus::kAllSources[i]))] = s.passages_by_source[i];
  json out = {{"passages", s.passages},     {"records", s.records},          {"passages_by_source", by_source},
              {"revision", s.revision},     {"average_passage_length", s.average_length}};
  add_missing_shards(out, s.missing_shards);
  return out;
}

void add_missing_shards(json& out, const std::vector<std::string>& missing_shards) {
  if (missing_shards.empty()) return;
  out["partial"] = true;
  out["missing_shards"] = missing_shards;
}

}  // namespace medsearch::searcher
