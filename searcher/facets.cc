// Facet counting over the passages a search examines, deduplicated by record.
#include "searcher/facets.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "corpus/schema.h"

namespace medsearch::searcher {

namespace schema = corpus::schema;
using nlohmann::json;

void RecordFacetSpy::operator()(const Xapian::Document& doc, double) {
  ++passages_seen_;
  // One value holds them all (kSlotFacets); an index written before it existed has the
  // separate slots, of which the record-level ones are read for a record's first passage only.
  const std::string packed = doc.get_value(schema::kSlotFacets);
  schema::FacetFields f;
  if (!packed.empty() && schema::decode_facet_fields(packed, f)) {
    auto [r, first] = record(f.record_key);
    if (first) {
      r.source = f.source;
      r.year = f.year;
      r.evidence = f.evidence;
      r.drugs = f.drugs;
    }
    add_section(r, f.section);
    return;
  }
  auto [r, first] = record(schema::facet_record_key(doc.get_value(schema::kSlotRecordId)));
  if (first) {
    r.source = doc.get_value(schema::kSlotSource);
    const std::string year = doc.get_value(schema::kSlotYear);
    if (!year.empty()) r.year = static_cast<int>(std::lround(Xapian::sortable_unserialise(year)));
    r.evidence = doc.get_value(schema::kSlotEvidence);
    r.drugs = doc.get_value(schema::kSlotDrugs);
  }
  add_section(r, doc.get_value(schema::kSlotSection));
}

std::pair<RecordFacetSpy::RecordValues&, bool> RecordFacetSpy::record(std::uint64_t record_key) {
  auto [it, inserted] = records_.try_emplace(record_key);
  ++it->second.passages;
  return {it->second, inserted};
}

void RecordFacetSpy::add_section(RecordValues& r, std::string_view section) {
  if (!section.empty() && std::find(r.sections.begin(), r.sections.end(), section) == r.sections.end())
    r.sections.emplace_back(section);
}

namespace {

// Counts keyed by views into the spy's own strings, which outlive the counting.
using Counts = std::unordered_map<std::string_view, std::uint64_t>;

// Most frequent first, equal counts in value order; at most max_values.
std::vector<FacetValue> by_count(const Counts& counts, std::string (*label)(const std::string&), std::size_t max_values) {
  std::vector<std::pair<std::string_view, std::uint64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (sorted.size() > max_values) sorted.resize(max_values);
  std::vector<FacetValue> out;
  out.reserve(sorted.size());
  for (const auto& [value, count] : sorted) {
    std::string v(value);
    std::string l = label ? label(v) : std::string();
    out.push_back({std::move(v), std::move(l), count, 0, 0});
  }
  return out;
}

}  // namespace

Facets RecordFacetSpy::facets(bool exact) const {
  Counts sources, drugs, sections, evidence;
  std::map<int, std::uint64_t> years;  // bucket start -> count
  std::vector<std::string_view> distinct;  // a record listing a drug twice counts once
  for (const auto& [id, r] : records_) {
    if (!r.source.empty()) ++sources[r.source];
    if (r.year > 0) ++years[r.year - r.year % kYearBucketWidth];
    if (!r.evidence.empty()) ++evidence[r.evidence];
    distinct.clear();
    const std::string_view list = r.drugs;
    for (std::size_t start = 0; start < list.size();) {
      std::size_t end = list.find('\n', start);
      if (end == std::string_view::npos) end = list.size();
      const std::string_view drug = list.substr(start, end - start);
      if (!drug.empty() && std::find(distinct.begin(), distinct.end(), drug) == distinct.end()) {
        distinct.push_back(drug);
        ++drugs[drug];
      }
      start = end + 1;
    }
    for (const auto& s : r.sections) ++sections[s];
  }
  Facets f;
  f.exact = exact;
  f.source = by_count(sources, source_label, SIZE_MAX);
  f.drug = by_count(drugs, nullptr, kMaxDrugFacetValues);
  f.section = by_count(sections, section_label, SIZE_MAX);
  f.evidence_level = by_count(evidence, evidence_label, SIZE_MAX);
  for (auto it = years.rbegin(); it != years.rend(); ++it) {
    const int from = it->first;
    const int to = from + kYearBucketWidth - 1;
    f.year.push_back({std::to_string(from) + "-" + std::to_string(to), "", it->second, from, to});
  }
  return f;
}

std::uint64_t RecordFacetSpy::matches(int per_record) const {
  if (per_record <= 0) return passages_seen_;
  std::uint64_t total = 0;
  for (const auto& [id, r] : records_) total += std::min<std::uint64_t>(r.passages, static_cast<std::uint64_t>(per_record));
  return total;
}

std::string section_label(const std::string& key) {
  std::string out = key;
  std::replace(out.begin(), out.end(), '_', ' ');
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

std::string evidence_label(const std::string& token) {
  static const std::map<std::string, std::string> kLabels = {
      {"practice_guideline", "Practice guideline"},
      {"meta_analysis", "Meta-analysis"},
      {"systematic_review", "Systematic review"},
      {"randomized_controlled_trial", "Randomized controlled trial"},
      {"clinical_trial", "Clinical trial"},
      {"observational", "Observational study"},
      {"case_report", "Case report"},
      {"review", "Review"},
      {"other", "Other"}};
  auto it = kLabels.find(token);
  return it != kLabels.end() ? it->second : section_label(token);
}

std::string source_label(const std::string& source) {
  if (source == "guideline") return "Guidelines";
  if (source == "fda_label") return "FDA drug labels";
  if (source == "research") return "Research";
  return section_label(source);
}

json facets_to_json(const Facets& f) {
  auto list = [](const std::vector<FacetValue>& values, bool with_label) {
    json out = json::array();
    for (const auto& v : values) {
      json item = {{"value", v.value}};
      if (with_label) item["label"] = v.label;
      item["count"] = v.count;
      out.push_back(std::move(item));
    }
    return out;
  };
  json years = json::array();
  for (const auto& v : f.year) years.push_back({{"value", v.value}, {"from", v.from}, {"to", v.to}, {"count", v.count}});
  return {{"exact", f.exact},
          {"source", list(f.source, true)},
          {"year", std::move(years)},
          {"drug", list(f.drug, false)},
          {"section", list(f.section, true)},
          {"evidence_level", list(f.evidence_level, true)}};
}

}  // namespace medsearch::searcher
