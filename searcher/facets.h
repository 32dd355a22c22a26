// Facets: how many matching records have each source, year bucket, drug, section and
// evidence level, counted by a Xapian::MatchSpy while the search runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <xapian.h>

namespace medsearch::searcher {

inline constexpr std::size_t kMaxDrugFacetValues = 20;
inline constexpr int kYearBucketWidth = 5;
// Up to this many passages, a search with facets examines every match (in a boolean match of
// their own, so the scored match still prunes) and the counts are exact; a larger index counts
// over a sample of kFacetSampleMatches matching passages (exact still when the question matches
// fewer): on one database the first that many in index order, from a boolean match of their
// own; over local shards with the Searcher's helper thread, the first that many of each shard
// (searcher/helper.h); otherwise over shards, the passages the scored match examined (the first
// that many, then those that could still reach the page). Was 500,000: at 100,000 generated passages, exact
// facets held a search to 7 per second on one thread, sampled ones 15 (medsearch-query-bench,
// snippets off; docs/PERFORMANCE.md). The sample was 10,000 until facets took ~15 of a search's
// ~39 ms CPU there (232 questions, everything on); at 2,000 a search takes ~31 ms.
inline constexpr Xapian::doccount kExactFacetsMaxPassages = 20000;
inline constexpr Xapian::doccount kFacetSampleMatches = 2000;

struct FacetValue {
  std::string value;  // the token filters take ("guideline", "adverse_reactions", "2020-2024")
  std::string label;  // for display; empty where the value is its own label (drugs)
  std::uint64_t count = 0;  // matching records with this value
  int from = 0;       // year buckets only: first and last year, inclusive
  int to = 0;
};

struct Facets {
  // True when every matching passage was examined, so the counts are exact; false when
  // Xapian stopped early and the counts cover only the passages it looked at.
  bool exact = false;
  std::vector<FacetValue> source;          // count desc, then value asc
  std::vector<FacetValue> year;            // newest bucket first
  std::vector<FacetValue> drug;            // top kMaxDrugFacetValues by count desc, then value asc
  std::vector<FacetValue> section;         // count desc, then value asc
  std::vector<FacetValue> evidence_level;  // count desc, then value asc
};

// Counts records, not passages: a record is counted once per value however many of its
// passages match (records are told apart by a hash of the record id: schema::facet_record_key). Source, year,
// drugs and evidence level are the same on every passage of a record; sections differ, and a
// record counts once for each section that has a matching passage. Reads value slot 9, which
// packs them all, or where a passage lacks it (an index from before it), slots 0, 1, 3, 6, 7
// and 8 (corpus/schema.h).
//
// Use: Enquire::add_matchspy(&spy) before get_mset(), then facets(exact). One spy per search
// (not thread-safe); it must outlive the get_mset() call.
class RecordFacetSpy : public Xapian::MatchSpy {
 public:
  void operator()(const Xapian::Document& doc, double weight) override;
  std::string name() const override { return "medsearch.RecordFacetSpy"; }

  // Passages the spy saw.
  Xapian::doccount passages_seen() const { return passages_seen_; }
  Facets facets(bool exact) const;
  // The matches a search collapsed to `per_record` passages per record returns (0 = no
  // collapse): exact when the spy saw every match, unlike Xapian's collapsed estimate, which
  // counts only collapses within the top of the ranking.
  std::uint64_t matches(int per_record) const;

 private:
  struct RecordValues {
    std::string source;
    int year = 0;
    std::string evidence;
    std::string drugs;  // '\n'-joined, as stored in slot 8
    std::vector<std::string> sections;
    std::uint64_t passages = 0;
  };
  // The record's entry, its passage counted, and whether this is its first passage.
  std::pair<RecordValues&, bool> record(std::uint64_t record_key);
  static void add_section(RecordValues& r, std::string_view section);

  Xapian::doccount passages_seen_ = 0;
  std::unordered_map<std::uint64_t, RecordValues> records_;  // by schema::facet_record_key
};

// "adverse_reactions" -> "Adverse reactions"; known evidence tokens get their usual names.
std::string section_label(const std::string& key);
std::string evidence_label(const std::string& token);
// "guideline" -> "Guidelines", "fda_label" -> "FDA drug labels", "research" -> "Research".
std::string source_label(const std::string& source);

nlohmann::json facets_to_json(const Facets& facets);

}  // namespace medsearch::searcher
