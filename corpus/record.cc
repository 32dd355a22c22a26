// Records: native JSON conversion, validation and citation formatting.
#include "corpus/record.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "corpus/analysis.h"
#include "corpus/json_text.h"

namespace medsearch::corpus {

using nlohmann::json;

std::string_view to_string(Source source) {
  switch (source) {
    case Source::guideline: return "guideline";
    case Source::fda_label: return "fda_label";
    case Source::research: return "research";
  }
  return "research";
}

std::optional<Source> parse_source(std::string_view name) {
  for (Source s : kAllSources) {
    if (to_string(s) == name) return s;
  }
  return std::nullopt;
}

std::string_view group_label(Source source) {
  switch (source) {
    case Source::guideline: return "From the Guidelines";
    case Source::fda_label: return "From the FDA Drug Label";
    case Source::research: return "From the Research";
  }
  return "From the Research";
}

namespace {

void append_sentence(std::string& out, const std::string& part) {
  if (part.empty()) return;
  if (!out.empty()) out += ' ';
  out += part;
  if (out.back() != '.' && out.back() != '?' && out.back() != '!') out += '.';
}

bool valid_date(std::string_view d) {
  // YYYY, YYYY-MM or YYYY-MM-DD with plausible ranges.
  auto digits = [&](std::size_t pos, std::size_t n) {
    if (d.size() < pos + n) return false;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(d[i]))) return false;
    }
    return true;
  };
  if (d.size() != 4 && d.size() != 7 && d.size() != 10) return false;
  if (!digits(0, 4)) return false;
  if (d.size() >= 7) {
    if (d[4] != '-' || !digits(5, 2)) return false;
    int month = std::stoi(std::string(d.substr(5, 2)));
    if (month < 1 || month > 12) return false;
  }
  if (d.size() == 10) {
    if (d[7] != '-' || !digits(8, 2)) return false;
    int day = std::stoi(std::string(d.substr(8, 2)));
    if (day < 1 || day > 31) return false;
  }
  return true;
}

template <std::size_t N>
bool one_of(std::string_view value, const std::string_view (&allowed)[N]) {
  return std::find(std::begin(allowed), std::end(allowed), value) != std::end(allowed);
}

Error field_error(ErrorCode code, const std::string& field, const std::string& what) {
  return make_error(code, "field '" + field + "': " + what, field);
}

// Reads an optional string member; a present non-string is a parse error.
Status get_string(const json& j, const char* key, std::string& out, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::success();
  if (!it->is_string()) return field_error(ErrorCode::parse, path + key, "must be a string");
  out = it->get<std::string>();
  return Status::success();
}

Status get_string_array(const json& j, const char* key, std::vector<std::string>& out,
                        const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::success();
  if (it->is_string()) {  // tolerate a single string where a list is expected
    out.push_back(it->get<std::string>());
    return Status::success();
  }
  if (!it->is_array()) return field_error(ErrorCode::parse, path + key, "must be an array of strings");
  for (const auto& v : *it) {
    if (!v.is_string()) return field_error(ErrorCode::parse, path + key, "must be an array of strings");
    out.push_back(v.get<std::string>());
  }
  return Status::success();
}

#define MEDSEARCH_TRY(expr)              \
  do {                                   \
    Status status_ = (expr);             \
    if (!status_.ok()) return status_.error(); \
  } while (false)

Result<Citation> citation_from_json(const json& j) {
  Citation c;
  if (!j.is_object()) return field_error(ErrorCode::parse, "citation", "must be an object");
  MEDSEARCH_TRY(get_string(j, "organisation", c.organisation, "citation."));
  if (c.organisation.empty()) MEDSEARCH_TRY(get_string(j, "organization", c.organisation, "citation."));
  MEDSEARCH_TRY(get_string_array(j, "authors", c.authors, "citation."));
  MEDSEARCH_TRY(get_string(j, "title", c.title, "citation."));
  MEDSEARCH_TRY(get_string(j, "journal", c.journal, "citation."));
  MEDSEARCH_TRY(get_string(j, "publisher", c.publisher, "citation."));
  if (auto it = j.find("pmid"); it != j.end() && it->is_number_unsigned()) {
    c.pmid = std::to_string(it->get<unsigned long long>());  // PMIDs are often written as numbers
  } else {
    MEDSEARCH_TRY(get_string(j, "pmid", c.pmid, "citation."));
  }
  MEDSEARCH_TRY(get_string(j, "doi", c.doi, "citation."));
  MEDSEARCH_TRY(get_string(j, "set_id", c.set_id, "citation."));
  MEDSEARCH_TRY(get_string(j, "url", c.url, "citation."));
  for (const char* key : {"volume", "pages"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    std::string value;
    if (it->is_string()) value = it->get<std::string>();
    else if (it->is_number_integer()) value = std::to_string(it->get<long long>());
    else return field_error(ErrorCode::parse, std::string("citation.") + key, "must be a string");
    (std::string_view(key) == "volume" ? c.volume : c.pages) = value;
  }
  if (auto it = j.find("year"); it != j.end() && !it->is_null()) {
    // An integer, or a string of four digits ("2019"); anything else, including integers that
    // would not fit, is refused rather than wrapped.
    const std::string text = it->is_string() ? it->get<std::string>() : std::string();
    const bool digits = text.size() == 4 && std::all_of(text.begin(), text.end(), [](unsigned char ch) {
                          return std::isdigit(ch);
                        });
    if (it->is_number_integer() && it->get<long long>() >= 0 && it->get<long long>() <= 9999)
      c.year = static_cast<int>(it->get<long long>());
    else if (digits)
      c.year = std::stoi(text);
    else
      return field_error(ErrorCode::parse, "citation.year", "must be a four-digit year");
  }
  return c;
}

}  // namespace

Citation citation_from_json_lenient(const json& j) {
  auto c = citation_from_json(j);
  return c.ok() ? c.value() : Citation{};
}

int Record::year() const {
  if (citation.year > 0) return citation.year;
  if (published.size() >= 4) {
    try {
      return std::stoi(published.substr(0, 4));
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

std::string section_key(std::string_view heading) {
  std::string key;
  bool pending_sep = false;
  for (unsigned char ch : heading) {
    if (std::isalnum(ch)) {
      if (pending_sep && !key.empty()) key += '_';
      pending_sep = false;
      key += static_cast<char>(std::tolower(ch));
    } else if (ch != '\'') {
      pending_sep = true;
    }
  }
  return key;
}

bool valid_record_id(std::string_view id) {
  if (id.empty() || id.size() > 200) return false;
  if (!std::isalnum(static_cast<unsigned char>(id[0]))) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char ch) {
    return std::isalnum(ch) || ch == '.' || ch == '_' || ch == ':' || ch == '-';
  });
}

Status validate(const Record& r) {
  auto bad = [](const std::string& field, const std::string& what) {
    return Status(field_error(ErrorCode::invalid_argument, field, what));
  };
  if (r.id.empty()) return bad("id", "is required");
  if (!is_valid_utf8(r.id) || !valid_record_id(r.id))
    return bad("id", "must be 1-200 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit");
  if (r.title.empty() && r.sections.empty()) return bad("title", "is required");
  if (!is_valid_utf8(r.title)) return bad("title", "is not valid UTF-8");
  bool any_text = false;
  for (std::size_t i = 0; i < r.sections.size(); ++i) {
    const auto& s = r.sections[i];
    const std::string where = "sections[" + std::to_string(i) + "]";
    if (!is_valid_utf8(s.heading)) return bad(where + ".heading", "is not valid UTF-8");
    if (!is_valid_utf8(s.text)) return bad(where + ".text", "is not valid UTF-8");
    if (!is_valid_utf8(s.key)) return bad(where + ".key", "is not valid UTF-8");
    if (!any_text && has_text(s.text)) any_text = true;
  }
  if (!any_text) return bad("text", "the record has no text (sections or text are required)");
  const Citation& c = r.citation;
  for (const std::string* f : {&c.organisation, &c.title, &c.journal, &c.volume, &c.pages, &c.publisher,
                               &c.pmid, &c.doi, &c.set_id, &c.url}) {
    if (!is_valid_utf8(*f)) return bad("citation", "contains invalid UTF-8");
  }
  for (const auto& a : c.authors) {
    if (!is_valid_utf8(a)) return bad("citation.authors", "contains invalid UTF-8");
  }
  if (c.year != 0 && (c.year < 1800 || c.year > 2100)) return bad("citation.year", "must be between 1800 and 2100");
  if (!r.published.empty() && !valid_date(r.published)) return bad("published", "must be YYYY, YYYY-MM or YYYY-MM-DD");
  if (!r.updated.empty() && !valid_date(r.updated)) return bad("updated", "must be YYYY, YYYY-MM or YYYY-MM-DD");
  if (!r.evidence_level.empty() && !one_of(r.evidence_level, kEvidenceLevels))
    return bad("evidence_level", "unknown evidence level '" + r.evidence_level + "'");
  if (!r.review_status.empty() && !one_of(r.review_status, kReviewStatuses))
    return bad("review_status", "unknown review status '" + r.review_status + "'");
  for (const auto& v : r.drugs) {
    if (!is_valid_utf8(v)) return bad("drugs", "contains invalid UTF-8");
  }
  for (const auto& v : r.conditions) {
    if (!is_valid_utf8(v)) return bad("conditions", "contains invalid UTF-8");
  }
  for (const auto& v : r.mesh_terms) {
    if (!is_valid_utf8(v)) return bad("mesh_terms", "contains invalid UTF-8");
  }
  for (const auto& v : r.publication_types) {
    if (!is_valid_utf8(v)) return bad("publication_types", "contains invalid UTF-8");
  }
  if (r.version < 0) return bad("version", "must be a non-negative whole number");
  return Status::success();
}

Result<Record> record_from_json(const json& j, bool require_title) {
  if (!j.is_object()) return make_error(ErrorCode::parse, "a record must be a JSON object");
  Record r;
  auto id = j.find("id");
  if (id == j.end()) return field_error(ErrorCode::invalid_argument, "id", "is required");
  if (id->is_number_integer()) r.id = std::to_string(id->get<long long>());
  else if (id->is_string()) r.id = id->get<std::string>();
  else return field_error(ErrorCode::parse, "id", "must be a string");

  auto source = j.find("source");
  if (source == j.end()) return field_error(ErrorCode::invalid_argument, "source", "is required");
  if (!source->is_string()) return field_error(ErrorCode::parse, "source", "must be a string");
  auto parsed_source = parse_source(source->get<std::string>());
  if (!parsed_source)
    return field_error(ErrorCode::invalid_argument, "source",
                       "unknown source '" + source->get<std::string>() + "' (guideline, fda_label, research)");
  r.source = *parsed_source;

  MEDSEARCH_TRY(get_string(j, "title", r.title, ""));
  if (auto it = j.find("sections"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return field_error(ErrorCode::parse, "sections", "must be an array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& s = (*it)[i];
      const std::string where = "sections[" + std::to_string(i) + "].";
      if (!s.is_object()) return field_error(ErrorCode::parse, "sections[" + std::to_string(i) + "]", "must be an object");
      Section section;
      MEDSEARCH_TRY(get_string(s, "heading", section.heading, where));
      MEDSEARCH_TRY(get_string(s, "key", section.key, where));
      MEDSEARCH_TRY(get_string(s, "text", section.text, where));
      if (section.key.empty()) section.key = section_key(section.heading);
      r.sections.push_back(std::move(section));
    }
  }
  std::string text;
  MEDSEARCH_TRY(get_string(j, "text", text, ""));
  if (!text.empty()) {
    if (!r.sections.empty())
      return field_error(ErrorCode::invalid_argument, "text", "give either sections or text, not both");
    r.sections.push_back(Section{"", "", std::move(text)});
  }
  if (auto it = j.find("citation"); it != j.end() && !it->is_null()) {
    auto c = citation_from_json(*it);
    if (!c.ok()) return c.error();
    r.citation = std::move(c.value());
  }
  MEDSEARCH_TRY(get_string(j, "published", r.published, ""));
  MEDSEARCH_TRY(get_string(j, "updated", r.updated, ""));
  MEDSEARCH_TRY(get_string_array(j, "drugs", r.drugs, ""));
  MEDSEARCH_TRY(get_string_array(j, "conditions", r.conditions, ""));
  MEDSEARCH_TRY(get_string_array(j, "mesh_terms", r.mesh_terms, ""));
  MEDSEARCH_TRY(get_string_array(j, "publication_types", r.publication_types, ""));
  if (auto it = j.find("version"); it != j.end() && !it->is_null()) {
    if (it->is_number_integer() && it->get<long long>() >= 0) {
      r.version = it->get<long long>();
    } else if (it->is_string() && !it->get<std::string>().empty() &&
               it->get<std::string>().size() <= 18 &&
               std::all_of(it->get_ref<const std::string&>().begin(), it->get_ref<const std::string&>().end(),
                           [](unsigned char ch) { return std::isdigit(ch); })) {
      r.version = std::stoll(it->get<std::string>());
    } else {
      return field_error(ErrorCode::parse, "version", "must be a non-negative whole number");
    }
  }
  MEDSEARCH_TRY(get_string(j, "evidence_level", r.evidence_level, ""));
  MEDSEARCH_TRY(get_string(j, "review_status", r.review_status, ""));
  Status valid = validate(r);
  if (!valid.ok()) return valid.error();
  if (require_title && clean_text(r.title).empty())
    return field_error(ErrorCode::invalid_argument, "title", "is required");
  return r;
}

json citation_to_json(const Citation& c) {
  json j = json::object();
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  put("organisation", c.organisation);
  if (!c.authors.empty()) j["authors"] = c.authors;
  put("title", c.title);
  put("journal", c.journal);
  put("volume", c.volume);
  put("pages", c.pages);
  put("publisher", c.publisher);
  if (c.year != 0) j["year"] = c.year;
  put("pmid", c.pmid);
  put("doi", c.doi);
  put("set_id", c.set_id);
  put("url", c.url);
  return j;
}

json record_to_json(const Record& r) {
  json j;
  j["id"] = r.id;
  j["source"] = std::string(to_string(r.source));
  j["title"] = r.title;
  json sections = json::array();
  for (const auto& s : r.sections) {
    json sj;
    sj["heading"] = s.heading;
    if (!s.key.empty()) sj["key"] = s.key;
    sj["text"] = s.text;
    sections.push_back(std::move(sj));
  }
  j["sections"] = std::move(sections);
  j["citation"] = citation_to_json(r.citation);
  if (!r.published.empty()) j["published"] = r.published;
  if (!r.updated.empty()) j["updated"] = r.updated;
  if (!r.drugs.empty()) j["drugs"] = r.drugs;
  if (!r.conditions.empty()) j["conditions"] = r.conditions;
  if (!r.mesh_terms.empty()) j["mesh_terms"] = r.mesh_terms;
  if (!r.publication_types.empty()) j["publication_types"] = r.publication_types;
  if (!r.evidence_level.empty()) j["evidence_level"] = r.evidence_level;
  if (!r.review_status.empty()) j["review_status"] = r.review_status;
  if (r.version != 0) j["version"] = r.version;
  return j;
}

std::string record_json_text(const Record& r) {
  std::string out;
  std::size_t text_bytes = 0;
  for (const auto& s : r.sections) text_bytes += s.text.size() + s.heading.size() + 40;
  out.reserve(text_bytes + r.title.size() + 256);
  constexpr bool kOptional = true;
  json_text::Object o(out);
  o.key("citation");
  o.nested(json_text::append_citation(out, r.citation));
  o.list("conditions", r.conditions);
  o.list("drugs", r.drugs);
  o.text("evidence_level", r.evidence_level, kOptional);
  o.text("id", r.id);
  o.list("mesh_terms", r.mesh_terms);
  o.list("publication_types", r.publication_types);
  o.text("published", r.published, kOptional);
  o.text("review_status", r.review_status, kOptional);
  o.key("sections");
  out += '[';
  for (std::size_t i = 0; i < r.sections.size(); ++i) {
    if (i) out += ',';
    json_text::Object section(out);
    section.text("heading", r.sections[i].heading);
    section.text("key", r.sections[i].key, kOptional);
    section.text("text", r.sections[i].text);
    section.close();
    o.nested(section.valid());
  }
  out += ']';
  o.text("source", to_string(r.source));
  o.text("title", r.title);
  o.text("updated", r.updated, kOptional);
  o.number("version", r.version, kOptional);
  o.close();
  // Invalid UTF-8 is nlohmann's to answer (with an exception).
  return o.valid() ? out : record_to_json(r).dump();
}

std::string Citation::format(std::string_view record_title) const {
  std::string out;
  if (!authors.empty()) {
    std::string names;
    const std::size_t shown = authors.size() > 6 ? 3 : authors.size();
    for (std::size_t i = 0; i < shown; ++i) {
      if (i) names += ", ";
      names += authors[i];
    }
    if (shown < authors.size()) names += ", et al";
    append_sentence(out, names);
  } else if (!organisation.empty()) {
    append_sentence(out, organisation);
  }
  append_sentence(out, title.empty() ? std::string(record_title) : title);
  std::string venue;
  if (!journal.empty()) venue = journal;
  else if (!publisher.empty()) venue = publisher;
  if (!authors.empty() && !organisation.empty() && journal.empty()) venue = organisation;
  if (!venue.empty()) {
    if (!out.empty()) out += ' ';
    out += venue;
    // "AbbVie Inc." already ends its sentence: no second full stop.
    const bool closed = out.back() == '.';
    if (year) out += (closed ? " " : ". ") + std::to_string(year);
    if (!volume.empty()) out += ";" + volume;
    if (!pages.empty()) out += ":" + pages;
    if (out.back() != '.') out += '.';
  } else if (year) {
    append_sentence(out, std::to_string(year));
  }
  if (!pmid.empty()) append_sentence(out, "PMID: " + pmid);
  if (!doi.empty()) append_sentence(out, "doi:" + doi);
  if (!set_id.empty()) append_sentence(out, "DailyMed set id: " + set_id);
  return out;
}

std::string Citation::link() const {
  if (!url.empty()) return url;
  if (!doi.empty()) return "https://doi.org/" + doi;
  if (!pmid.empty()) return "https://pubmed.ncbi.nlm.nih.gov/" + pmid + "/";
  if (!set_id.empty()) return "https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid=" + set_id;
  return {};
}

}  // namespace medsearch::corpus
