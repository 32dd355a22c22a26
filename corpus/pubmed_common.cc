// The article -> Record rules shared by the MEDLINE text and PubMed XML readers: evidence
// levels from publication types, dates, abstract section keys, validation and clean-up.
#include "corpus/pubmed_common.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <initializer_list>
#include <utility>

#include "corpus/analysis.h"

namespace medsearch::corpus::formats {

namespace {

// Publication type -> evidence level. Exact names from NLM's Publication Types list (compared
// case-insensitively). The level of an article is the highest-priority level of any of its
// types, in the order of kEvidenceLevels. Choices worth knowing:
// - Trial phases ("Clinical Trial, Phase III") say nothing of randomisation, so they count as
//   clinical_trial; indexers add "Randomized Controlled Trial" beside them when it applies.
// - Veterinary variants ("Randomized Controlled Trial, Veterinary", "Clinical Trial,
//   Veterinary", "Observational Study, Veterinary") are left out on purpose: this engine
//   answers clinical questions about people, and an animal trial is not evidence of that rank.
// - observational is "Observational Study" and "Twin Study" only. "Comparative Study" is set on
//   any comparison (laboratory studies included) and "Multicenter Study" describes the setting
//   of trials as much as anything, so neither says what the design was. Cohort and case-control
//   studies are MeSH descriptors (Cohort Studies, Case-Control Studies), not publication types.
// - Protocols ("Clinical Trial Protocol") report no results and stay other.
// - "Network Meta-Analysis" is a publication type in recent MeSH years; older files lack it.
struct EvidenceRow {
  std::string_view publication_type;
  std::string_view level;
};
constexpr EvidenceRow kEvidenceTable[] = {
    {"Practice Guideline", "practice_guideline"},
    {"Guideline", "practice_guideline"},
    {"Consensus Development Conference", "practice_guideline"},
    {"Consensus Development Conference, NIH", "practice_guideline"},
    {"Meta-Analysis", "meta_analysis"},
    {"Network Meta-Analysis", "meta_analysis"},
    {"Systematic Review", "systematic_review"},
    {"Randomized Controlled Trial", "randomized_controlled_trial"},
    {"Clinical Trial", "clinical_trial"},
    {"Clinical Trial, Phase I", "clinical_trial"},
    {"Clinical Trial, Phase II", "clinical_trial"},
    {"Clinical Trial, Phase III", "clinical_trial"},
    {"Clinical Trial, Phase IV", "clinical_trial"},
    {"Controlled Clinical Trial", "clinical_trial"},
    {"Pragmatic Clinical Trial", "clinical_trial"},
    {"Equivalence Trial", "clinical_trial"},
    {"Adaptive Clinical Trial", "clinical_trial"},
    {"Observational Study", "observational"},
    {"Twin Study", "observational"},
    {"Case Reports", "case_report"},
    {"Review", "review"},
    {"Scoping Review", "review"},
};

// NLM's category for the labels that make up most structured abstracts (from NLM's Structured
// Abstracts label list), so that MEDLINE text, which prints only the label, gets the key XML
// gets from NlmCategory.
struct LabelRow {
  std::string_view label;
  std::string_view category;
};
constexpr LabelRow kLabelCategories[] = {
    {"BACKGROUND", "background"},
    {"INTRODUCTION", "background"},
    {"CONTEXT", "background"},
    {"BACKGROUND AND AIMS", "background"},
    {"BACKGROUND AND OBJECTIVES", "background"},
    {"BACKGROUND AND PURPOSE", "background"},
    {"OBJECTIVE", "objective"},
    {"OBJECTIVES", "objective"},
    {"AIM", "objective"},
    {"AIMS", "objective"},
    {"PURPOSE", "objective"},
    {"QUESTIONS/PURPOSES", "objective"},
    {"METHODS", "methods"},
    {"METHOD", "methods"},
    {"MATERIALS AND METHODS", "methods"},
    {"MATERIAL AND METHODS", "methods"},
    {"PATIENTS AND METHODS", "methods"},
    {"DESIGN", "methods"},
    {"STUDY DESIGN", "methods"},
    {"SETTING", "methods"},
    {"DESIGN, SETTING, AND PARTICIPANTS", "methods"},
    {"PARTICIPANTS", "methods"},
    {"PATIENTS", "methods"},
    {"INTERVENTIONS", "methods"},
    {"MEASUREMENTS", "methods"},
    {"MAIN OUTCOME MEASURES", "methods"},
    {"MAIN OUTCOMES AND MEASURES", "methods"},
    {"DATA SOURCES", "methods"},
    {"STUDY SELECTION", "methods"},
    {"DATA EXTRACTION", "methods"},
    {"RESULTS", "results"},
    {"FINDINGS", "results"},
    {"CONCLUSIONS", "conclusions"},
    {"CONCLUSION", "conclusions"},
    {"INTERPRETATION", "conclusions"},
    {"CONCLUSIONS AND RELEVANCE", "conclusions"},
    {"DISCUSSION", "conclusions"},
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

int to_int(std::string_view s) {
  int value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size() ? value : 0;
}

constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                        "jul", "aug", "sep", "oct", "nov", "dec"};

// 1-12 for "3", "03", "Mar", "March" (case-insensitive); 0 otherwise (seasons, ranges).
int month_number(std::string_view m) {
  if (all_digits(m)) {
    const int n = to_int(m);
    return n >= 1 && n <= 12 ? n : 0;
  }
  if (m.size() < 3) return 0;
  static constexpr std::string_view kFull[] = {"january", "february", "march",     "april",   "may",      "june",
                                               "july",    "august",   "september", "october", "november", "december"};
  const std::string lower = to_lower(m);
  for (int i = 0; i < 12; ++i) {
    if (lower == kMonths[i] || lower == kFull[i]) return i + 1;
  }
  // "Sept" appears in some MedlineDates.
  if (lower == "sept") return 9;
  return 0;
}

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

std::string two_digits(int n) {
  // Built char by char: GCC 12 warns falsely (-Wrestrict) on "0" + std::string.
  std::string out(2, '0');
  out[0] = static_cast<char>('0' + (n / 10) % 10);
  out[1] = static_cast<char>('0' + n % 10);
  return out;
}

// Checks a text field for UTF-8 and cleans it (NFC, white space collapsed).
Status clean_field(std::string& value, const char* field) {
  if (std::size_t bad = find_invalid_utf8(value); bad != std::string::npos)
    return make_error(ErrorCode::invalid_argument,
                      std::string("field '") + field + "': invalid UTF-8 at byte " + std::to_string(bad + 1), field);
  value = clean_text(value);
  return Status::success();
}

Status clean_list(std::vector<std::string>& values, const char* field) {
  std::vector<std::string> kept;
  for (auto& v : values) {
    if (Status s = clean_field(v, field); !s.ok()) return s;
    if (!v.empty()) kept.push_back(std::move(v));
  }
  values = std::move(kept);
  return Status::success();
}

}  // namespace

std::string_view evidence_level_for(const std::vector<std::string>& publication_types) {
  constexpr std::size_t kLevels = std::size(kEvidenceLevels);
  std::size_t best = kLevels - 1;  // "other"
  for (const auto& type : publication_types) {
    const std::string_view t = trim_ascii_space(type);
    for (const auto& row : kEvidenceTable) {
      if (!iequals(t, row.publication_type)) continue;
      for (std::size_t rank = 0; rank < best; ++rank) {
        if (kEvidenceLevels[rank] == row.level) {
          best = rank;
          break;
        }
      }
    }
  }
  return kEvidenceLevels[best];
}

Source source_for(const std::vector<std::string>& publication_types) {
  for (const auto& type : publication_types) {
    const std::string_view t = trim_ascii_space(type);
    if (iequals(t, "Practice Guideline") || iequals(t, "Guideline")) return Source::guideline;
  }
  return Source::research;
}

std::string abstract_section_key(std::string_view label, std::string_view nlm_category) {
  const std::string_view category = trim_ascii_space(nlm_category);
  if (!category.empty() && !iequals(category, "UNASSIGNED")) return section_key(category);
  const std::string_view l = trim_ascii_space(label);
  for (const auto& row : kLabelCategories) {
    if (iequals(l, row.label)) return std::string(row.category);
  }
  return section_key(l);
}

std::string pubmed_date(std::string_view year, std::string_view month, std::string_view day) {
  year = trim_ascii_space(year);
  if (year.size() != 4 || !all_digits(year)) return {};
  const int y = to_int(year);
  if (y < 1800 || y > 2100) return {};
  std::string out(year);
  const int m = month_number(trim_ascii_space(month));
  if (m == 0) return out;
  out += '-';
  out += two_digits(m);
  day = trim_ascii_space(day);
  if (!all_digits(day) || day.size() > 2) return out;
  const int d = to_int(day);
  if (d < 1 || d > days_in_month(y, m)) return out;
  out += '-';
  out += two_digits(d);
  return out;
}

std::string pubmed_text_date(std::string_view text) {
  std::vector<std::string_view> tokens;
  for (std::size_t i = 0; i < text.size();) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    if (j > i) tokens.push_back(text.substr(i, j - i));
    i = j;
  }
  if (tokens.empty()) return {};
  // The year comes first ("2016 Jan-Feb"); a range of years ("1998-1999") keeps the first.
  std::string_view year = tokens[0].substr(0, 4);
  if (!all_digits(year) || (tokens[0].size() > 4 && tokens[0][4] != '-')) {
    // Rare forms put the year later ("Summer 2015"): keep that year alone.
    for (auto t : tokens) {
      if (t.size() >= 4 && all_digits(t.substr(0, 4)) && (t.size() == 4 || t[4] == '-'))
        return pubmed_date(t.substr(0, 4), {}, {});
    }
    return {};
  }
  if (tokens[0].size() > 4) return pubmed_date(year, {}, {});
  std::string_view month = tokens.size() > 1 && month_number(tokens[1]) != 0 ? tokens[1] : std::string_view{};
  std::string_view day = !month.empty() && tokens.size() > 2 && all_digits(tokens[2]) ? tokens[2] : std::string_view{};
  return pubmed_date(year, month, day);
}

std::string mesh_descriptor(std::string_view value) {
  value = trim_ascii_space(value);
  if (auto slash = value.find('/'); slash != std::string_view::npos) value = value.substr(0, slash);
  value = trim_ascii_space(value);
  while (!value.empty() && value.front() == '*') value.remove_prefix(1);
  return std::string(trim_ascii_space(value));
}

std::uint64_t location_line(std::string_view location) {
  const auto colon = location.rfind(':');
  if (colon == std::string_view::npos) return 0;
  const std::string_view digits = location.substr(colon + 1);
  if (!all_digits(digits)) return 0;
  std::uint64_t line = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), line);
  return line;
}

Result<Record> make_pubmed_record(PubmedArticle a) {
  const std::string pmid(trim_ascii_space(a.pmid));
  if (pmid.empty()) return make_error(ErrorCode::invalid_argument, "field 'PMID': is required", "PMID");
  if (!all_digits(pmid) || pmid.size() > 12)
    return make_error(ErrorCode::invalid_argument, "field 'PMID': must be a number, not '" + pmid.substr(0, 40) + "'",
                      "PMID");

  using Field = std::pair<std::string*, const char*>;
  for (auto [value, field] : std::initializer_list<Field>{
           {&a.title, "title"}, {&a.vernacular_title, "title"}, {&a.book_title, "book_title"},
           {&a.journal, "journal"}, {&a.volume, "volume"}, {&a.pages, "pages"}, {&a.publisher, "publisher"},
           {&a.doi, "doi"}}) {
    if (Status s = clean_field(*value, field); !s.ok()) return s.error();
  }
  if (Status s = clean_list(a.authors, "authors"); !s.ok()) return s.error();
  if (Status s = clean_list(a.mesh_terms, "mesh_terms"); !s.ok()) return s.error();
  if (Status s = clean_list(a.publication_types, "publication_types"); !s.ok()) return s.error();

  Record r;
  r.id = "pmid-" + pmid;
  r.source = source_for(a.publication_types);
  r.title = !a.title.empty() ? a.title : !a.vernacular_title.empty() ? a.vernacular_title : a.book_title;

  for (auto& section : a.abstract) {
    if (Status s = clean_field(section.heading, "abstract"); !s.ok()) return s.error();
    if (Status s = clean_field(section.text, "abstract"); !s.ok()) return s.error();
    if (section.text.empty()) continue;
    // NLM labels parts it could not name "UNLABELLED": that is no heading at all.
    if (iequals(section.heading, "UNLABELLED")) section.heading.clear(), section.key.clear();
    r.sections.push_back(std::move(section));
  }
  if (r.sections.empty()) {
    // Title-only citations (letters, editorials, older articles) are common in the baselines and
    // still worth finding, so the title stands in as the text rather than the article being dropped.
    if (r.title.empty())
      return make_error(ErrorCode::invalid_argument, "field 'title': the article has neither a title nor an abstract",
                        "title");
    r.sections.push_back(Section{"", "", r.title});
  }

  Citation& c = r.citation;
  c.authors = std::move(a.authors);
  c.journal = std::move(a.journal);
  c.volume = std::move(a.volume);
  c.pages = std::move(a.pages);
  c.publisher = std::move(a.publisher);
  if (!a.book_title.empty() && a.book_title != r.title) c.title = std::move(a.book_title);
  c.pmid = pmid;
  c.doi = std::move(a.doi);
  c.url = "https://pubmed.ncbi.nlm.nih.gov/" + pmid + "/";
  // pubmed_date() already dropped years outside 1800-2100 (validate()'s range), keeping the
  // article rather than rejecting it for an odd date.
  r.published = std::move(a.published);
  if (r.published.size() >= 4) c.year = to_int(std::string_view(r.published).substr(0, 4));

  r.mesh_terms = std::move(a.mesh_terms);
  r.publication_types = std::move(a.publication_types);
  r.evidence_level = std::string(evidence_level_for(r.publication_types));
  for (const auto& type : r.publication_types) {
    // The article itself was retracted (a "Retraction of Publication" is the notice, not retracted).
    if (iequals(type, "Retracted Publication")) r.review_status = "retracted";
  }

  if (Status s = validate(r); !s.ok()) return s.error();
  return r;
}

}  // namespace medsearch::corpus::formats
