// What the MEDLINE text reader (medline.cc) and the PubMed XML reader (pubmed_xml.cc) share, so
// that one article gives the same Record whichever format it arrives in: the fields both formats
// carry, the evidence-level table, publication dates, abstract section keys. Internal to corpus/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/record.h"
#include "corpus/result.h"

namespace medsearch::corpus::formats {

// Items larger than this are rejected without being parsed. Real citations are well under 1 MB
// (the longest author lists reach a few MB); anything bigger is damaged input, and keeping a
// bound stops a missing end tag from pulling a whole baseline file into one item.
inline constexpr std::size_t kMaxPubmedItemBytes = 32u << 20;

// One article as either format gives it, before it becomes a Record. Text fields are raw (not
// yet cleaned); make_pubmed_record() validates and normalises them.
struct PubmedArticle {
  std::string pmid;
  std::string title;             // ArticleTitle / TI
  std::string vernacular_title;  // VernacularTitle / TT, used when the title is empty
  std::string book_title;        // books: the book's title (Book/BookTitle / BTI)
  std::vector<Section> abstract;  // structured: one per label; plain: one with an empty heading
  std::vector<std::string> authors;  // "Surname Initials" or a collective name
  std::string journal;
  std::string volume;
  std::string pages;
  std::string publisher;
  std::string doi;
  std::string published;  // already normalised: "YYYY", "YYYY-MM", "YYYY-MM-DD" or empty
  std::vector<std::string> mesh_terms;
  std::vector<std::string> publication_types;
};

// Builds the Record for an article: id "pmid-<PMID>", source (guideline for practice
// guidelines, else research), title and sections (the title as the text when there is no
// abstract), citation with a PubMed url, evidence level, review status "retracted" for a
// "Retracted Publication". Text is checked for UTF-8 and cleaned (clean_text). Fails with
// invalid_argument naming the field (PMID, title, ...) when the article cannot be a record.
Result<Record> make_pubmed_record(PubmedArticle article);

// The evidence level (one of kEvidenceLevels) for a list of PubMed publication types: the
// highest-priority level any of them maps to, "other" when none does.
std::string_view evidence_level_for(const std::vector<std::string>& publication_types);

// Source::guideline when the publication types include "Practice Guideline" or "Guideline".
Source source_for(const std::vector<std::string>& publication_types);

// The section key of a structured-abstract part: the NLM category lowercased (background,
// objective, methods, results, conclusions) when given and not UNASSIGNED; else the category
// that NLM assigns to the most common labels ("MATERIALS AND METHODS" -> methods), so that
// MEDLINE text (which has no categories) and XML agree; else section_key(label).
std::string abstract_section_key(std::string_view label, std::string_view nlm_category);

// A date from PubDate parts: year "1994", month "Feb" / "February" / "2", day "24". Returns
// "YYYY", "YYYY-MM" or "YYYY-MM-DD" as far as the parts are valid ("" without a valid year).
std::string pubmed_date(std::string_view year, std::string_view month, std::string_view day);

// A date written as text: MEDLINE DP or PubDate/MedlineDate, e.g. "2017 Apr 17", "2016 Jan-Feb",
// "1998 Dec-1999 Jan", "2015 Spring". Keeps the most precise date the text certainly contains
// ("2016 Apr 17-23" -> "2016-04"; a range of months -> the year).
std::string pubmed_text_date(std::string_view text);

// The MeSH descriptor of a MEDLINE MH value or a DescriptorName: qualifiers after '/' and the
// major-topic '*' removed ("Prescription Drugs/*pharmacology" -> "Prescription Drugs").
std::string mesh_descriptor(std::string_view value);

// The line number at the end of a "file:LINE" location (0 when there is none).
std::uint64_t location_line(std::string_view location);

}  // namespace medsearch::corpus::formats
