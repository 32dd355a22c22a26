// Records: one input item (a guideline, an FDA drug label, a research abstract) with its
// citation, as read from the native JSONL format or converted from another format.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "corpus/result.h"

namespace medsearch::corpus {

// Where a record comes from. The order is the order of groups in an answer.
enum class Source { guideline, fda_label, research };

inline constexpr Source kAllSources[] = {Source::guideline, Source::fda_label, Source::research};

std::string_view to_string(Source source);
// "guideline", "fda_label", "research"; nullopt for anything else.
std::optional<Source> parse_source(std::string_view name);
// The heading an answer shows above a source's group: "From the Guidelines", ...
std::string_view group_label(Source source);

// Evidence levels, as PubMed publication types map onto them. Stored as these tokens.
inline constexpr std::string_view kEvidenceLevels[] = {
    "practice_guideline", "meta_analysis", "systematic_review", "randomized_controlled_trial",
    "clinical_trial",     "observational", "case_report",       "review",
    "other"};
inline constexpr std::string_view kReviewStatuses[] = {"current", "under_review", "superseded",
                                                       "withdrawn", "retracted"};

// Everything a reader needs to find the source again.
struct Citation {
  std::string organisation;          // issuing body (guidelines, labels)
  std::vector<std::string> authors;  // "Surname AB"
  std::string title;                 // title of the cited work, when it differs from the record's
  std::string journal;
  std::string volume;
  std::string pages;
  std::string publisher;
  int year = 0;
  std::string pmid;
  std::string doi;
  std::string set_id;  // FDA SPL set id
  std::string url;

  // A one-line reference in a conventional style, e.g.
  // "Bensimon G, Lacomblez L, Meininger V. A controlled trial of riluzole ... N Engl J Med. 1994;330:585-591. PMID: 8302340."
  std::string format(std::string_view record_title) const;
  // The best link for the source: the url, else DOI, else PubMed, else DailyMed by set id; empty if none.
  std::string link() const;
};

struct Section {
  std::string heading;  // as the source titles it, e.g. "Dosage and Administration"
  std::string key;      // canonical slug, e.g. "dosage_and_administration"; derived from heading if absent
  std::string text;
};

struct Record {
  std::string id;
  Source source = Source::research;
  std::string title;
  // Either sections, or a single plain text (kept as one section with an empty heading).
  std::vector<Section> sections;
  Citation citation;
  std::string published;  // "YYYY", "YYYY-MM" or "YYYY-MM-DD"; may be empty
  std::string updated;
  std::vector<std::string> drugs;
  std::vector<std::string> conditions;
  std::vector<std::string> mesh_terms;         // MeSH descriptor names (PubMed)
  std::vector<std::string> publication_types;  // as PubMed names them, e.g. "Randomized Controlled Trial"
  std::string evidence_level;  // one of kEvidenceLevels, or empty
  std::string review_status;   // one of kReviewStatuses, or empty
  // The source's own version of this document (an SPL label's version number); 0 = unknown.
  // When two versions of one record id arrive, the higher version wins.
  long long version = 0;

  // The year used for filtering: the citation's, else the published date's; 0 if unknown.
  int year() const;
};

// Converts a heading to a section key: lowercase ASCII letters and digits joined by '_'
// ("Warnings & Precautions" -> "warnings_precautions").
std::string section_key(std::string_view heading);

// True if `id` is a usable record id: 1-200 bytes of [A-Za-z0-9._:-], starting alphanumeric.
bool valid_record_id(std::string_view id);

// Checks a record's required fields and values. Reports the first problem as an
// invalid_argument error whose param names the field.
Status validate(const Record& record);

// Native JSON <-> Record. from_json checks types (parse errors name the field) and then
// validate(); it never throws. Native records need a title; converted formats whose titles
// may be empty (BEIR) pass require_title = false.
Result<Record> record_from_json(const nlohmann::json& j, bool require_title = true);
nlohmann::json record_to_json(const Record& record);
// record_to_json(record).dump(), byte for byte, written directly (corpus/json_text.h): what the
// indexer's content hash reads for every record.
std::string record_json_text(const Record& record);
nlohmann::json citation_to_json(const Citation& citation);
Citation citation_from_json_lenient(const nlohmann::json& j);

}  // namespace medsearch::corpus
