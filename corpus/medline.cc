// PubMed MEDLINE text format ("Send to: File, Format: MEDLINE", EFetch rettype=medline): one
// citation per block of `TAG - value` lines, blocks separated by blank lines, long values
// continued on lines indented by six spaces. Framing collects a block's lines; parse() maps the
// tags onto the fields PubMed XML gives (pubmed_common.h), so both formats make the same Record.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corpus/analysis.h"
#include "corpus/formats.h"
#include "corpus/pubmed_common.h"

namespace medsearch::corpus::formats {

namespace {

bool is_blank(std::string_view line) { return trim_ascii_space(line).empty(); }

std::string_view strip_bom(std::string_view s) {
  if (s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  return s;
}

// One `TAG - value` field with its continuation lines joined, and the line it starts on.
struct Field {
  std::string tag;
  std::string value;
  std::uint64_t line = 0;
};

// Splits a record block into fields. The tag field is four characters (the tag padded with
// spaces) followed by "- "; a line starting with white space continues the previous value.
Result<std::vector<Field>> split_fields(std::string_view text, std::uint64_t first_line) {
  std::vector<Field> fields;
  std::uint64_t line_no = first_line;
  for (std::size_t start = 0; start < text.size(); ++line_no) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (is_blank(line)) continue;
    if (line.front() == ' ' || line.front() == '\t') {
      if (fields.empty())
        return make_error(ErrorCode::parse, "line " + std::to_string(line_no) + ": a continuation line before any tag");
      Field& f = fields.back();
      if (!f.value.empty()) f.value += ' ';
      f.value += trim_ascii_space(line);
      continue;
    }
    const bool tagged = line.size() >= 5 && line[4] == '-' && (line.size() == 5 || line[5] == ' ');
    const std::string_view tag = tagged ? trim_ascii_space(line.substr(0, 4)) : std::string_view{};
    if (tag.empty())
      return make_error(ErrorCode::parse, "line " + std::to_string(line_no) +
                                              ": expected 'TAG - value' (a tag padded to 4 characters, then '- ') "
                                              "or a continuation line indented by spaces");
    fields.push_back(Field{std::string(tag), std::string(trim_ascii_space(line.substr(5))), line_no});
  }
  return fields;
}

bool is_label_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' || c == '&' || c == '/' || c == ',' ||
         c == '(' || c == ')' || c == '-' || c == '\'';
}

// Length of a structured-abstract label ("MATERIALS AND METHODS") starting at `pos` and
// followed by ": ", or 0. NLM prints labels in capitals, which is what tells them from text.
std::size_t label_length_at(std::string_view text, std::size_t pos) {
  constexpr std::size_t kMaxLabel = 60;
  if (pos >= text.size() || text[pos] < 'A' || text[pos] > 'Z') return 0;
  std::size_t end = pos;
  while (end < text.size() && end - pos <= kMaxLabel && is_label_char(text[end])) ++end;
  if (end - pos < 3 || end - pos > kMaxLabel) return 0;
  if (text.substr(end, 2) != ": " && !(end + 1 == text.size() && text[end] == ':')) return 0;
  const char last = text[end - 1];
  if (!((last >= 'A' && last <= 'Z') || last == ')')) return 0;
  return end - pos;
}

// MEDLINE prints a structured abstract as "LABEL: text LABEL: text", where XML has one
// AbstractText per label. An abstract that starts with a label is split at each later label
// that follows the end of a sentence; any other abstract is one plain section.
std::vector<Section> split_abstract(std::string_view text) {
  std::vector<Section> sections;
  if (text.empty()) return sections;
  if (label_length_at(text, 0) == 0) {
    sections.push_back(Section{"", "", std::string(text)});
    return sections;
  }
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t label_len = label_length_at(text, pos);
    const std::string_view label = text.substr(pos, label_len);
    std::size_t body = std::min(text.size(), pos + label_len + 2);
    // The next label: after ". ", "? ", "! ", ") " or "] ".
    std::size_t next = std::string_view::npos;
    for (std::size_t i = body; i + 2 < text.size(); ++i) {
      const char c = text[i];
      if ((c == '.' || c == '?' || c == '!' || c == ')' || c == ']') && text[i + 1] == ' ' &&
          label_length_at(text, i + 2) != 0) {
        next = i + 2;
        break;
      }
    }
    const std::size_t body_end = next == std::string_view::npos ? text.size() : next;
    sections.push_back(Section{std::string(label), abstract_section_key(label, ""),
                               std::string(trim_ascii_space(text.substr(body, body_end - body)))});
    pos = body_end;
  }
  return sections;
}

// The DOI of an LID/AID value "10.1371/journal.pone.0173548 [doi]"; empty for other ids.
std::string doi_of(std::string_view value) {
  constexpr std::string_view kSuffix = "[doi]";
  value = trim_ascii_space(value);
  if (value.size() <= kSuffix.size() || value.substr(value.size() - kSuffix.size()) != kSuffix) return {};
  return std::string(trim_ascii_space(value.substr(0, value.size() - kSuffix.size())));
}

Result<Record> parse_medline_record(std::string_view text, std::uint64_t first_line) {
  if (std::size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    const auto line = first_line + static_cast<std::uint64_t>(std::count(text.begin(), text.begin() + bad, '\n'));
    return make_error(ErrorCode::parse, "invalid UTF-8 at line " + std::to_string(line));
  }
  auto fields = split_fields(text, first_line);
  if (!fields.ok()) return fields.error();

  PubmedArticle a;
  std::string journal_abbreviation, journal_title, lid_doi, aid_doi, abstract;
  for (Field& f : *fields) {
    const std::string& t = f.tag;
    if (t == "PMID") {
      if (!a.pmid.empty())
        return make_error(ErrorCode::parse, "line " + std::to_string(f.line) +
                                                ": a second PMID in one record (is a blank line missing?)");
      a.pmid = std::move(f.value);
    } else if (t == "TI") {
      a.title = std::move(f.value);
    } else if (t == "TT") {
      a.vernacular_title = std::move(f.value);
    } else if (t == "BTI") {
      a.book_title = std::move(f.value);
    } else if (t == "AB") {
      if (!abstract.empty()) abstract += ' ';
      abstract += f.value;
    } else if (t == "AU" || t == "CN") {
      // Authors and collective names in the order PubMed lists them, as XML's AuthorList does.
      a.authors.push_back(std::move(f.value));
    } else if (t == "TA") {
      journal_abbreviation = std::move(f.value);
    } else if (t == "JT") {
      journal_title = std::move(f.value);
    } else if (t == "VI") {
      a.volume = std::move(f.value);
    } else if (t == "PG") {
      a.pages = std::move(f.value);
    } else if (t == "PB") {
      a.publisher = std::move(f.value);
    } else if (t == "DP") {
      a.published = pubmed_text_date(f.value);
    } else if (t == "LID") {
      if (lid_doi.empty()) lid_doi = doi_of(f.value);
    } else if (t == "AID") {
      if (aid_doi.empty()) aid_doi = doi_of(f.value);
    } else if (t == "MH") {
      if (std::string d = mesh_descriptor(f.value); !d.empty()) a.mesh_terms.push_back(std::move(d));
    } else if (t == "PT") {
      a.publication_types.push_back(std::move(f.value));
    }
  }
  if (a.pmid.empty())
    return make_error(ErrorCode::invalid_argument, "field 'PMID': the record has no PMID line", "PMID");
  a.journal = !journal_abbreviation.empty() ? std::move(journal_abbreviation) : std::move(journal_title);
  // LID is the article's own locator (XML ELocationID); AID repeats the ArticleIdList.
  a.doi = !lid_doi.empty() ? std::move(lid_doi) : std::move(aid_doi);
  a.abstract = split_abstract(abstract);
  return make_pubmed_record(std::move(a));
}

class MedlineReader final : public RecordReader {
 public:
  explicit MedlineReader(std::unique_ptr<InputFile> in) : in_(std::move(in)) {}

  bool next_raw(RawItem& item) override {
    item.location.clear();
    item.text.clear();
    item.error.clear();
    std::uint64_t first_line = 0;
    std::size_t bytes = 0;
    bool oversized = false;
    auto finish = [&] {
      item.location = in_->path() + ":" + std::to_string(first_line);
      if (oversized)
        item.error = "the record is larger than " + std::to_string(kMaxPubmedItemBytes >> 20) + " MiB";
      return true;
    };
    std::string line;
    while (true) {
      if (!have_pending_) {
        if (!in_->getline(line)) break;
        ++line_no_;
        if (line_no_ == 1) line = std::string(strip_bom(line));
      } else {
        line = std::move(pending_);
        have_pending_ = false;
        ++line_no_;
      }
      if (is_blank(line)) {
        if (first_line != 0) return finish();
        continue;
      }
      // A PMID line inside a record starts the next one: some tools drop the blank line.
      if (first_line != 0 && line.rfind("PMID-", 0) == 0) {
        pending_ = std::move(line);
        have_pending_ = true;
        --line_no_;
        return finish();
      }
      if (first_line == 0) first_line = line_no_;
      bytes += line.size() + 1;
      if (bytes > kMaxPubmedItemBytes) {
        // Keep reading to the end of the block, holding on to only what the rejects file keeps.
        if (!oversized) item.text = truncate_raw(item.text);
        oversized = true;
        if (item.text.size() < kMaxRawBytes) item.text += line + "\n";
        continue;
      }
      item.text += line;
      item.text += '\n';
    }
    if (first_line != 0) return finish();
    if (!in_->error().empty() && !reported_error_) {
      // A read error or corrupt compressed data ends the file: report it once, where it happened.
      reported_error_ = true;
      item.location = in_->path() + ":" + std::to_string(line_no_ + 1);
      item.error = in_->error();
      return true;
    }
    return false;
  }

  void parse(const RawItem& raw, std::vector<ReadItem>& out) const override {
    ReadItem item;
    item.location = raw.location;
    if (!raw.error.empty()) {
      // No text means the input itself failed (corrupt gzip, a read error); else framing did.
      item.error = make_error(raw.text.empty() ? ErrorCode::corrupt : ErrorCode::parse, raw.error);
      item.raw = truncate_raw(raw.text);
      out.push_back(std::move(item));
      return;
    }
    auto record = parse_medline_record(raw.text, location_line(raw.location));
    if (record.ok()) {
      item.record = std::move(record.value());
    } else {
      item.error = record.error();
      item.raw = truncate_raw(raw.text);
    }
    out.push_back(std::move(item));
  }

  const InputFile& input() const override { return *in_; }

 private:
  std::unique_ptr<InputFile> in_;
  std::uint64_t line_no_ = 0;
  std::string pending_;  // a PMID line read ahead that starts the next record
  bool have_pending_ = false;
  bool reported_error_ = false;
};

}  // namespace

std::unique_ptr<RecordReader> make_medline_reader(std::unique_ptr<InputFile> in) {
  return std::make_unique<MedlineReader>(std::move(in));
}

bool looks_like_medline(std::string_view head) {
  head = strip_bom(head);
  while (!head.empty()) {
    std::size_t end = head.find('\n');
    const std::string_view line = head.substr(0, end);
    if (!is_blank(line)) return line.rfind("PMID-", 0) == 0;
    if (end == std::string_view::npos) break;
    head.remove_prefix(end + 1);
  }
  return false;
}

}  // namespace medsearch::corpus::formats
