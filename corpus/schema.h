// The index schema: term prefixes, value slots and metadata keys, named once and used by
// the indexer and the searcher. Prefix conventions follow Xapian's Omega (Q = unique id,
// S = title, X... = our own fields).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>
#include <xapian.h>

#include "corpus/passage.h"
#include "corpus/record.h"
#include "corpus/result.h"

namespace medsearch::corpus::schema {

// Bump when the layout of documents changes; an index with another version is refused.
inline constexpr int kVersion = 4;  // 2: STEM_ALL_Z terms, content hash and version slots; 3: facet slots 6-8;
                                   // 4: XY concept terms from the medical vocabulary, "µg" indexed as "mcg"

// Term prefixes.
inline constexpr std::string_view kPrefixPassageId = "Q";      // unique id term of a passage
inline constexpr std::string_view kPrefixRecordId = "XR";      // all passages of a record
inline constexpr std::string_view kPrefixSource = "XS";        // XSguideline, XSfda_label, XSresearch
inline constexpr std::string_view kPrefixTitle = "S";          // words of the record title
inline constexpr std::string_view kPrefixHeading = "XH";       // words of the section heading
inline constexpr std::string_view kPrefixSection = "XK";       // section key, XKdosage_and_administration
inline constexpr std::string_view kPrefixYear = "Y";           // Y2024
inline constexpr std::string_view kPrefixDrug = "XD";          // lowercased drug name
inline constexpr std::string_view kPrefixCondition = "XC";     // lowercased condition
inline constexpr std::string_view kPrefixEvidence = "XE";      // evidence level token
inline constexpr std::string_view kPrefixReviewStatus = "XV";  // review status token
inline constexpr std::string_view kPrefixMesh = "XM";          // lowercased MeSH heading
inline constexpr std::string_view kPrefixPubType = "XP";       // lowercased publication type
inline constexpr std::string_view kPrefixConcept = "XY";       // vocabulary concept id (corpus/vocabulary.h), wdf = mentions

// Value slots.
inline constexpr Xapian::valueno kSlotRecordId = 0;   // collapse key: one passage per record
inline constexpr Xapian::valueno kSlotYear = 1;       // sortable_serialise(year)
inline constexpr Xapian::valueno kSlotPassageId = 2;  // stable tie-break in ranking
inline constexpr Xapian::valueno kSlotSource = 3;     // source name
inline constexpr Xapian::valueno kSlotVersion = 4;    // sortable_serialise(record version), when known
inline constexpr Xapian::valueno kSlotContentHash = 5;  // hash of the record's content (resume, skip unchanged)
inline constexpr Xapian::valueno kSlotSection = 6;      // section key, ASCII-lowercased, when the passage has one
inline constexpr Xapian::valueno kSlotEvidence = 7;     // evidence level token, when known
inline constexpr Xapian::valueno kSlotDrugs = 8;        // the record's drug names, ASCII-lowercased, joined by '\n'
// Slots 0, 3, 1, 7, 8 and 6 again, packed into one value (encode_facet_fields) for the facet
// counter, which reads every value it needs for each of up to thousands of matches: one value
// stream instead of six, and small (the record id as an 8-byte key, source and evidence level
// as codes), because the counter reads the stream's chunks, not just its matches' values.
// Indexes written before this slot existed lack it; readers fall back to the separate slots.
inline constexpr Xapian::valueno kSlotFacets = 9;
// The passage as stored (encode_document_data): a value, not Xapian's document data, because
// glass deflates every document data tag with zlib as it is written and inflates it on every
// read, which was a fifth of the writer's CPU; values are stored as they are. Indexes written
// before this slot keep it in the document data: read it with stored_document_data().
inline constexpr Xapian::valueno kSlotStored = 10;
// The passage's vector in the index's semantic model (corpus/semantic.h), when the index has one.
inline constexpr Xapian::valueno kSlotSemantic = 11;

// Metadata keys.
inline constexpr std::string_view kMetaSchemaVersion = "medsearch.schema_version";
// Hash of the vocabulary whose synonyms the database's synonym table holds.
inline constexpr std::string_view kMetaVocabulary = "medsearch.vocabulary";
// The semantic model (corpus/semantic.h): its header, and each term's vector under this key + term.
inline constexpr std::string_view kMetaSemantic = "medsearch.semantic";
inline constexpr std::string_view kMetaSemanticTerm = "medsearch.semantic:";

// A stable 64-bit hash (FNV-1a): the same on every platform, compiler and run, because it is
// part of the on-disk format (shard routing, content hashes). Not for security.
std::uint64_t stable_hash(std::string_view bytes, std::uint64_t seed = 0xcbf29ce484222325ULL);

// Builds a boolean term: prefix + value (values longer than Xapian's term limit are cut).
std::string term(std::string_view prefix, std::string_view value);

// What a passage's stored JSON (kSlotStored) holds: everything needed to turn a match into a Hit
// without reading anything else. Stored as compact JSON.
struct StoredPassage {
  Passage passage;
  Source source = Source::research;
  std::string title;
  Citation citation;
  int year = 0;
  std::string published;
  std::string updated;
  std::string evidence_level;
  std::string review_status;
  std::vector<std::string> drugs;
  std::vector<std::string> conditions;
  std::vector<std::string> mesh_terms;
  std::vector<std::string> publication_types;
  long long version = 0;
};

StoredPassage make_stored_passage(const Record& record, const Passage& passage);
std::string encode_document_data(const StoredPassage& stored);
Result<StoredPassage> decode_document_data(std::string_view data);
namespace detail {
// The same with nlohmann's DOM parser only: what decode_document_data falls back to for anything
// but the canonical form, and what tests compare it with.
Result<StoredPassage> decode_document_data_dom(std::string_view data);
// encode_document_data through nlohmann's DOM and dump: what it writes, byte for byte
// (corpus_test), and what it falls back to for invalid UTF-8 (which this throws on).
std::string encode_document_data_dom(const StoredPassage& stored);
}  // namespace detail
// A passage document's stored JSON: slot kSlotStored, or the document data of a passage
// written before that slot existed.
std::string stored_document_data(const Xapian::Document& doc);

// The facet fields of one passage (kSlotFacets). The views point into the string they were
// decoded from, or into static storage.
struct FacetFields {
  std::uint64_t record_key = 0;  // facet_record_key(record id)
  std::string_view source;
  int year = 0;  // 0 = unknown
  std::string_view evidence;
  std::string_view drugs;    // '\n'-joined, as in kSlotDrugs
  std::string_view section;  // as in kSlotSection
};
// What tells one record's passages from another's in the facet counts: a 64-bit hash of the
// record id (two of the ids a search counts sharing one is a chance of about 1 in 10^13).
inline std::uint64_t facet_record_key(std::string_view record_id) { return stable_hash(record_id); }
// A zero byte, the record key (8 bytes, little-endian), the source as a code byte (0-2, in
// Source's order; 0xff: its name follows as a field), the year (2 bytes, little-endian), the
// evidence level as a code byte (0 = none, 1-9 = kEvidenceLevels; 0xff: a field follows),
// then drugs and section as fields: a length (LEB128) and the bytes. A research passage
// without drugs and with the section key "abstract" takes 23 bytes.
std::string encode_facet_fields(const FacetFields& fields);
// Reads that encoding, and the one written before it (from 2026-12-03 to this one: record id,
// source, year digits, evidence, drugs and section, each as a field), which begins with the
// record id's non-zero length. False for bytes that are neither (a value from another
// writer, a truncated one).
bool decode_facet_fields(std::string_view packed, FacetFields& out);

// Checks that `db` was written with this schema version (an empty database passes).
Status check_version(const Xapian::Database& db);

}  // namespace medsearch::corpus::schema
