// The stored form of a passage (value slot kSlotStored; document data in older indexes) and schema checks.
#include "corpus/schema.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <iterator>
#include <optional>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "corpus/json_text.h"

namespace medsearch::corpus::schema {

using nlohmann::json;

namespace {
// Xapian terms are limited to 245 bytes; boolean values beyond that are cut.
constexpr std::size_t kMaxTermBytes = 240;
}  // namespace

std::uint64_t stable_hash(std::string_view bytes, std::uint64_t seed) {
  std::uint64_t h = seed;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string term(std::string_view prefix, std::string_view value) {
  std::string t(prefix);
  // Omega's convention: a prefix of more than one character followed by a value starting
  // with a capital letter needs a ':' separator.
  if (prefix.size() > 1 && !value.empty() && value[0] >= 'A' && value[0] <= 'Z') t += ':';
  t.append(value.substr(0, kMaxTermBytes - std::min(t.size(), kMaxTermBytes)));
  return t;
}

namespace {

void put_field(std::string& out, std::string_view field) {
  std::size_t n = field.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  out.append(field);
}

bool get_field(std::string_view& in, std::string_view& field) {
  std::size_t n = 0;
  for (int shift = 0;; shift += 7) {
    if (in.empty() || shift > 28) return false;
    const auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    n |= static_cast<std::size_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) break;
  }
  if (n > in.size()) return false;
  field = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

constexpr unsigned char kFacetsCompact = 0x00;  // first byte of the compact encoding
constexpr unsigned char kNamedCode = 0xff;      // a source or evidence level outside the codes

void put_fixed(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool get_fixed(std::string_view& in, std::uint64_t& v, int bytes) {
  if (in.size() < static_cast<std::size_t>(bytes)) return false;
  v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(bytes);
  return true;
}

// The source's code byte: its place in kAllSources, else kNamedCode.
unsigned char source_code(std::string_view source) {
  for (std::size_t i = 0; i < std::size(kAllSources); ++i)
    if (to_string(kAllSources[i]) == source) return static_cast<unsigned char>(i);
  return kNamedCode;
}

bool get_source(std::string_view& in, std::string_view& source) {
  if (in.empty()) return false;
  const auto code = static_cast<unsigned char>(in.front());
  in.remove_prefix(1);
  if (code == kNamedCode) return get_field(in, source);
  if (code >= std::size(kAllSources)) return false;
  source = to_string(kAllSources[code]);
  return true;
}

// The evidence level's code byte: 0 for none, 1-9 for kEvidenceLevels, else kNamedCode.
unsigned char evidence_code(std::string_view evidence) {
  if (evidence.empty()) return 0;
  const auto at = std::find(std::begin(kEvidenceLevels), std::end(kEvidenceLevels), evidence);
  return at != std::end(kEvidenceLevels) ? static_cast<unsigned char>(at - std::begin(kEvidenceLevels) + 1) : kNamedCode;
}

bool get_evidence(std::string_view& in, std::string_view& evidence) {
  if (in.empty()) return false;
  const auto code = static_cast<unsigned char>(in.front());
  in.remove_prefix(1);
  if (code == kNamedCode) return get_field(in, evidence);
  if (code > std::size(kEvidenceLevels)) return false;
  evidence = code == 0 ? std::string_view() : kEvidenceLevels[code - 1];
  return true;
}

bool decode_legacy_facet_fields(std::string_view packed, FacetFields& out) {
  std::string_view record_id, year;
  if (!get_field(packed, record_id) || !get_field(packed, out.source) || !get_field(packed, year) ||
      !get_field(packed, out.evidence) || !get_field(packed, out.drugs) || !get_field(packed, out.section) ||
      !packed.empty() || year.size() > 4)
    return false;
  out.record_key = facet_record_key(record_id);
  out.year = 0;
  for (char c : year) {
    if (c < '0' || c > '9') return false;
    out.year = out.year * 10 + (c - '0');
  }
  return true;
}

}  // namespace

std::string encode_facet_fields(const FacetFields& f) {
  std::string out;
  out.reserve(16 + f.drugs.size() + f.section.size());
  out.push_back(static_cast<char>(kFacetsCompact));
  put_fixed(out, f.record_key, 8);
  const unsigned char source = source_code(f.source);
  out.push_back(static_cast<char>(source));
  if (source == kNamedCode) put_field(out, f.source);
  put_fixed(out, f.year > 0 && f.year <= 0xffff ? static_cast<std::uint64_t>(f.year) : 0, 2);
  const unsigned char evidence = evidence_code(f.evidence);
  out.push_back(static_cast<char>(evidence));
  if (evidence == kNamedCode) put_field(out, f.evidence);
  put_field(out, f.drugs);
  put_field(out, f.section);
  return out;
}

bool decode_facet_fields(std::string_view packed, FacetFields& out) {
  if (packed.empty()) return false;
  if (static_cast<unsigned char>(packed.front()) != kFacetsCompact) return decode_legacy_facet_fields(packed, out);
  packed.remove_prefix(1);
  std::uint64_t year = 0;
  if (!get_fixed(packed, out.record_key, 8) || !get_source(packed, out.source) || !get_fixed(packed, year, 2))
    return false;
  out.year = static_cast<int>(year);
  return get_evidence(packed, out.evidence) && get_field(packed, out.drugs) && get_field(packed, out.section) &&
         packed.empty();
}

StoredPassage make_stored_passage(const Record& record, const Passage& passage) {
  StoredPassage s;
  s.passage = passage;
  s.source = record.source;
  s.title = record.title;
  s.citation = record.citation;
  s.year = record.year();
  s.published = record.published;
  s.updated = record.updated;
  s.evidence_level = record.evidence_level;
  s.review_status = record.review_status;
  s.drugs = record.drugs;
  s.conditions = record.conditions;
  s.mesh_terms = record.mesh_terms;
  s.publication_types = record.publication_types;
  s.version = record.version;
  return s;
}

// What detail::encode_document_data_dom writes (nlohmann's dump of the object), written straight
// into one string (corpus/json_text.h): building the object and dumping it was a twentieth of
// the indexer's analysis. corpus_test compares the two on random passages. Invalid UTF-8, which
// nlohmann refuses with an exception, goes its way.
std::string encode_document_data(const StoredPassage& s) {
  std::string out;
  out.reserve(s.passage.text.size() + s.title.size() + 256);
  constexpr bool kOptional = true;
  json_text::Object o(out);
  o.key("citation");
  o.nested(json_text::append_citation(out, s.citation));
  o.list("conditions", s.conditions);
  o.list("drugs", s.drugs);
  o.unsigned_number("end", s.passage.end);
  o.text("evidence_level", s.evidence_level, kOptional);
  o.text("heading", s.passage.heading);
  o.text("id", s.passage.id);
  o.list("mesh_terms", s.mesh_terms);
  o.number("ordinal", s.passage.ordinal);
  o.list("publication_types", s.publication_types);
  o.text("published", s.published, kOptional);
  o.text("record_id", s.passage.record_id);
  o.text("review_status", s.review_status, kOptional);
  o.text("section", s.passage.section);
  o.number("section_index", s.passage.section_index);
  o.text("source", to_string(s.source));
  o.unsigned_number("start", s.passage.start);
  o.text("text", s.passage.text);
  o.text("title", s.title);
  o.text("updated", s.updated, kOptional);
  o.number("version", s.version, kOptional);
  o.number("year", s.year, kOptional);
  o.close();
  return o.valid() ? out : detail::encode_document_data_dom(s);
}

namespace detail {

std::string encode_document_data_dom(const StoredPassage& s) {
  json j;
  j["id"] = s.passage.id;
  j["record_id"] = s.passage.record_id;
  j["ordinal"] = s.passage.ordinal;
  j["section_index"] = s.passage.section_index;
  j["heading"] = s.passage.heading;
  j["section"] = s.passage.section;
  j["text"] = s.passage.text;
  j["start"] = s.passage.start;
  j["end"] = s.passage.end;
  j["source"] = std::string(to_string(s.source));
  j["title"] = s.title;
  j["citation"] = citation_to_json(s.citation);
  if (s.year) j["year"] = s.year;
  if (!s.published.empty()) j["published"] = s.published;
  if (!s.updated.empty()) j["updated"] = s.updated;
  if (!s.evidence_level.empty()) j["evidence_level"] = s.evidence_level;
  if (!s.review_status.empty()) j["review_status"] = s.review_status;
  if (!s.drugs.empty()) j["drugs"] = s.drugs;
  if (!s.conditions.empty()) j["conditions"] = s.conditions;
  if (!s.mesh_terms.empty()) j["mesh_terms"] = s.mesh_terms;
  if (!s.publication_types.empty()) j["publication_types"] = s.publication_types;
  if (s.version) j["version"] = s.version;
  return j.dump();
}

}  // namespace detail

namespace {

// The stored passage as encode_document_data writes it, read with simdjson's On-Demand parser
// straight into the struct: no DOM, no map of keys. Every hit of every search is read this way,
// and nlohmann's parse was over half of a TREC run's instructions (100 records a question).
// Returns false for anything but the canonical form (an unknown key, a value of another type,
// trailing bytes, malformed JSON or UTF-8): the caller then reads it with nlohmann, which
// decides, so both give the same passage or the same error.
class FastStoredReader {
 public:
  bool read(std::string_view data, StoredPassage& s) {
    // simdjson reads up to SIMDJSON_PADDING bytes past the end: a padded copy (reserved first,
    // so the bytes are copied once).
    buffer_.reserve(data.size() + simdjson::SIMDJSON_PADDING);
    buffer_.assign(data.data(), data.size());
    simdjson::ondemand::document doc;
    if (parser_.iterate(simdjson::padded_string_view(buffer_.data(), buffer_.size(), buffer_.capacity())).get(doc))
      return false;
    simdjson::ondemand::object object;
    if (doc.get_object().get(object)) return false;
    // Each key once (nlohmann keeps the last of repeated keys: such a passage goes its way).
    // kKeys is in Key's order.
    enum Key : unsigned {
      kId, kRecordId, kOrdinal, kSectionIndex, kHeading, kSection, kText, kStart, kEnd, kSource, kTitle,
      kCitation, kYear, kPublished, kUpdated, kEvidenceLevel, kReviewStatus, kDrugs, kConditions, kMeshTerms,
      kPublicationTypes, kVersion
    };
    static constexpr std::string_view kKeys[] = {
        "id",        "record_id", "ordinal",        "section_index", "heading",   "section",    "text",
        "start",     "end",       "source",         "title",         "citation",  "year",       "published",
        "updated",   "evidence_level", "review_status", "drugs",     "conditions", "mesh_terms", "publication_types",
        "version"};
    static_assert(std::size(kKeys) == kVersion + 1);
    std::uint32_t seen = 0;
    for (auto field : object) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return false;
      const auto* found = std::find(std::begin(kKeys), std::end(kKeys), key);
      if (found == std::end(kKeys)) return false;
      const std::uint32_t bit = 1u << (found - std::begin(kKeys));
      if (seen & bit) return false;
      seen |= bit;
      simdjson::ondemand::value v;
      if (field.value().get(v)) return false;
      bool ok = true;
      switch (static_cast<Key>(found - std::begin(kKeys))) {
        case kId: ok = text(v, s.passage.id); break;
        case kRecordId: ok = text(v, s.passage.record_id); break;
        case kOrdinal: ok = integer(v, s.passage.ordinal); break;
        case kSectionIndex: ok = integer(v, s.passage.section_index); break;
        case kHeading: ok = text(v, s.passage.heading); break;
        case kSection: ok = text(v, s.passage.section); break;
        case kText: ok = text(v, s.passage.text); break;
        case kStart: ok = count(v, s.passage.start); break;
        case kEnd: ok = count(v, s.passage.end); break;
        case kSource: {
          std::string name;
          std::optional<Source> source;
          ok = text(v, name) && (source = parse_source(name)).has_value();
          if (ok) s.source = *source;
          break;
        }
        case kTitle: ok = text(v, s.title); break;
        case kCitation: ok = citation(v, s.citation); break;
        case kYear: ok = integer(v, s.year); break;
        case kPublished: ok = text(v, s.published); break;
        case kUpdated: ok = text(v, s.updated); break;
        case kEvidenceLevel: ok = text(v, s.evidence_level); break;
        case kReviewStatus: ok = text(v, s.review_status); break;
        case kDrugs: ok = texts(v, s.drugs); break;
        case kConditions: ok = texts(v, s.conditions); break;
        case kMeshTerms: ok = texts(v, s.mesh_terms); break;
        case kPublicationTypes: ok = texts(v, s.publication_types); break;
        case kVersion: {
          std::int64_t version = 0;
          ok = !v.get_int64().get(version);
          s.version = version;
          break;
        }
      }
      if (!ok) return false;
    }
    constexpr std::uint32_t kRequired = 1u << kId | 1u << kRecordId | 1u << kSource;
    // Nothing after the object (current_location() is out of bounds at the end).
    return (seen & kRequired) == kRequired && doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
  }

 private:
  static bool text(simdjson::ondemand::value& v, std::string& out) {
    std::string_view view;
    if (v.get_string().get(view)) return false;
    out.assign(view);
    return true;
  }
  static bool texts(simdjson::ondemand::value& v, std::vector<std::string>& out) {
    simdjson::ondemand::array array;
    if (v.get_array().get(array)) return false;
    out.clear();
    for (auto element : array) {
      std::string_view view;
      if (element.get_string().get(view)) return false;
      out.emplace_back(view);
    }
    return true;
  }
  static bool integer(simdjson::ondemand::value& v, int& out) {
    std::int64_t i = 0;
    if (v.get_int64().get(i) || i < INT_MIN || i > INT_MAX) return false;
    out = static_cast<int>(i);
    return true;
  }
  static bool count(simdjson::ondemand::value& v, std::size_t& out) {
    std::uint64_t u = 0;
    if (v.get_uint64().get(u)) return false;
    out = static_cast<std::size_t>(u);
    return true;
  }
  // citation_to_json's form: strings, the authors an array of strings, the year an integer
  // (citation_from_json accepts more, e.g. a numeric PMID: such a citation goes the slow way).
  static bool citation(simdjson::ondemand::value& v, Citation& c) {
    simdjson::ondemand::object object;
    if (v.get_object().get(object)) return false;
    std::vector<std::string_view> keys;  // each once, as above
    for (auto field : object) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return false;
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) return false;
      keys.push_back(key);
      simdjson::ondemand::value value;
      if (field.value().get(value)) return false;
      bool ok = true;
      if (key == "organisation") ok = text(value, c.organisation) && !c.organisation.empty();
      else if (key == "authors") ok = texts(value, c.authors);
      else if (key == "title") ok = text(value, c.title);
      else if (key == "journal") ok = text(value, c.journal);
      else if (key == "volume") ok = text(value, c.volume);
      else if (key == "pages") ok = text(value, c.pages);
      else if (key == "publisher") ok = text(value, c.publisher);
      else if (key == "year") ok = integer(value, c.year) && c.year >= 0 && c.year <= 9999;
      else if (key == "pmid") ok = text(value, c.pmid);
      else if (key == "doi") ok = text(value, c.doi);
      else if (key == "set_id") ok = text(value, c.set_id);
      else if (key == "url") ok = text(value, c.url);
      else ok = false;
      if (!ok) return false;
    }
    return true;
  }

  simdjson::ondemand::parser parser_;
  std::string buffer_;
};

}  // namespace

Result<StoredPassage> decode_document_data(std::string_view data) {
  thread_local FastStoredReader reader;
  StoredPassage s;
  if (reader.read(data, s)) return s;
  return detail::decode_document_data_dom(data);
}

Result<StoredPassage> detail::decode_document_data_dom(std::string_view data) {
  json j = json::parse(data, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_error(ErrorCode::corrupt, "stored passage is not a JSON object");
  StoredPassage s;
  try {
    s.passage.id = j.at("id").get<std::string>();
    s.passage.record_id = j.at("record_id").get<std::string>();
    s.passage.ordinal = j.value("ordinal", 0);
    s.passage.section_index = j.value("section_index", 0);
    s.passage.heading = j.value("heading", "");
    s.passage.section = j.value("section", "");
    s.passage.text = j.value("text", "");
    s.passage.start = j.value("start", std::size_t{0});
    s.passage.end = j.value("end", std::size_t{0});
    auto source = parse_source(j.value("source", ""));
    if (!source) return make_error(ErrorCode::corrupt, "stored passage has an unknown source");
    s.source = *source;
    s.title = j.value("title", "");
    if (j.contains("citation")) s.citation = citation_from_json_lenient(j["citation"]);
    s.year = j.value("year", 0);
    s.published = j.value("published", "");
    s.updated = j.value("updated", "");
    s.evidence_level = j.value("evidence_level", "");
    s.review_status = j.value("review_status", "");
    s.drugs = j.value("drugs", std::vector<std::string>{});
    s.conditions = j.value("conditions", std::vector<std::string>{});
    s.mesh_terms = j.value("mesh_terms", std::vector<std::string>{});
    s.publication_types = j.value("publication_types", std::vector<std::string>{});
    s.version = j.value("version", 0LL);
  } catch (const json::exception& e) {
    return make_error(ErrorCode::corrupt, std::string("stored passage: ") + e.what());
  }
  return s;
}

std::string stored_document_data(const Xapian::Document& doc) {
  std::string stored = doc.get_value(kSlotStored);
  return stored.empty() ? doc.get_data() : stored;
}

Status check_version(const Xapian::Database& db) {
  const std::string version = db.get_metadata(std::string(kMetaSchemaVersion));
  if (version.empty()) {
    if (db.get_doccount() == 0) return Status::success();
    return make_error(ErrorCode::corrupt, "the index has no medsearch schema version: not a medsearch index");
  }
  if (version != std::to_string(kVersion))
    return make_error(ErrorCode::corrupt, "the index has schema version " + version + ", this medsearch reads version " +
                                              std::to_string(kVersion) + ": re-index it");
  return Status::success();
}

}  // namespace medsearch::corpus::schema
