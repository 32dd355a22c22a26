// FDA drug label sections shared by the two label readers (openFDA JSON in openfda.cc, DailyMed
// SPL XML in spl.cc): one table from LOINC section code and openFDA field name to a section key
// and a readable heading, so a label gets the same section keys whichever way it is read, plus
// the few helpers both readers use to build a label's title, drugs and citation.
//
// Keys are openFDA's field names (`indications_and_usage`, `boxed_warning`, ...) so that
// `section:boxed_warning` finds the boxed warning of a label read from either format.
//
// Not label text, and so never indexed as sections (`LabelSection::indexed == false`, or listed
// in is_openfda_metadata_field):
//   openfda, set_id, id, version, effective_time (identity and dates: read into the record's
//     own fields instead);
//   spl_product_data_elements (48780-1), spl_indexing_data_elements (48779-3): product codes
//     and ingredient lists, read into `drugs` instead;
//   package_label_principal_display_panel (51945-4): carton text, NDC codes and strengths,
//     repeated per package; it would crowd results with boilerplate;
//   recent_major_changes (43683-2): a list of section numbers and dates, no content;
//   references (34093-5): bibliography; its journal words would match unrelated queries;
//   every `*_table` field: openFDA's HTML copies of tables whose text is already in the
//     section's own field;
//   any field whose name starts with '@' (openFDA bookkeeping such as "@epoch").
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace medsearch::corpus::label {

struct LabelSection {
  std::string_view key;      // openFDA field name, used as the Section key
  std::string_view heading;  // readable heading for the Section
  std::string_view loinc;    // the SPL section's LOINC code; empty when the field has none
  bool indexed = true;       // false for metadata sections (see the list above)
};

// Every known section, in canonical order (the order openFDA sections are emitted in).
std::span<const LabelSection> label_sections();

// Looks a section up by openFDA field name / by LOINC code; nullptr when unknown.
const LabelSection* find_section_by_key(std::string_view key);
const LabelSection* find_section_by_loinc(std::string_view code);

// The LOINC code of "SPL unclassified section", which says nothing about the content: its
// heading comes from the section's own title.
inline constexpr std::string_view kUnclassifiedLoinc = "42229-5";
// The LOINC code of a boxed warning.
inline constexpr std::string_view kBoxedWarningLoinc = "34066-1";

// True for openFDA fields that are not label text (the list above), for a field of any type.
bool is_openfda_metadata_field(std::string_view field);

// A heading for an openFDA field not in the table: words capitalised, small words not
// ("drug_and_or_laboratory_test" -> "Drug and or Laboratory Test").
std::string heading_from_field(std::string_view field);

inline constexpr std::string_view kFdaOrganisation = "U.S. Food and Drug Administration";

// The DailyMed page of a label.
std::string dailymed_url(std::string_view set_id);

// Lowercases ASCII letters.
std::string lower_ascii(std::string_view text);

// A generic or substance name as stored in `drugs`: lowercased, white space collapsed.
std::string generic_for_drugs(std::string_view name);

// Adds `name` (white space collapsed) to `drugs` unless it is blank or already there, compared
// without regard to ASCII case (the index lowercases drug terms anyway).
void add_drug(std::vector<std::string>& drugs, std::string_view name);

// A label title from its brand and generic names: "HUMIRA (adalimumab) label", "Haloperidol
// label" when both are the same, "<generic> label" without a brand; empty when both are blank.
// A generic name written all in capitals is lowercased; otherwise names keep their case.
std::string label_title(std::string_view brand, std::string_view generic);

// Converts an HL7/openFDA date "YYYYMMDD" (optionally followed by a time, as SPL allows), "YYYYMM"
// or "YYYY" to "YYYY-MM-DD" / "YYYY-MM" / "YYYY"; empty when `value` is not such a date.
std::string date_from_compact(std::string_view value);

// Collapses runs of white space (ASCII, and the no-break space U+00A0) to one space and trims.
std::string collapse_space(std::string_view text);

}  // namespace medsearch::corpus::label
