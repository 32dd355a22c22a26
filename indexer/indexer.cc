// Records -> passages -> Xapian documents. Every passage carries the terms and values the
// searcher filters, collapses and ranks on (see corpus/schema.h), plus the record's content
// hash and version so re-runs can skip what is already there.
#include "indexer/indexer.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "corpus/analysis.h"
#include "corpus/schema.h"
#include "corpus/spelling.h"
#include "corpus/xapian_error.h"

namespace medsearch::indexer {

namespace schema = corpus::schema;
using corpus::make_error;

namespace {


std::string lower_ascii(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

corpus::Record cleaned(const corpus::Record& record) {
  corpus::Record r = record;
  r.title = corpus::clean_text(r.title);
  for (auto& s : r.sections) {
    s.heading = corpus::clean_text(s.heading);
    s.text = corpus::clean_text(s.text);
  }
  return r;
}

}  // namespace

namespace {

std::string encode_hash(std::uint64_t hash) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, hash >>= 8) out[static_cast<std::size_t>(i)] = static_cast<char>(hash & 0xff);
  return out;
}

std::uint64_t decode_hash(const std::string& bytes) {
  std::uint64_t hash = 0;
  for (unsigned char c : bytes) hash = (hash << 8) | c;
  return hash;
}

}  // namespace

std::uint64_t content_hash(const corpus::Record& record, const corpus::PassageOptions& options) {
  const std::uint64_t h = schema::stable_hash(corpus::record_json_text(record));
  return schema::stable_hash("|schema=" + std::to_string(schema::kVersion) + "|max=" + std::to_string(options.max_bytes) +
                                 "|min=" + std::to_string(options.min_bytes) +
                                 "|vocabulary=" + std::to_string(corpus::builtin_vocabulary().hash()),
                             h);
}

DocumentBuilder::DocumentBuilder(corpus::PassageOptions options, const corpus::Vocabulary& vocabulary)
    : options_(options), vocabulary_(&vocabulary) {
  corpus::configure_term_generator(generator_);
  stemmer_ = corpus::cached_stemmer(corpus::kIndexStemCacheWords);
  generator_.set_stemmer(stemmer_);
}

namespace {

// Xapian refuses a synonym key over 255 bytes only when it commits, which would fail the whole
// commit, so names whose key or term would be longer than a term may be are left out.
constexpr std::size_t kMaxSynonymBytes = 245;

// A label names its product by brand (capitalised, "Rilutek") and by generic name (lower case,
// "riluzole"): each brand is a synonym of each generic and back. Generics are not made synonyms
// of each other (a combination product's ingredients are different drugs), nor are the drugs
// a guideline or a paper mentions. When the label is for one drug (one generic name) that the
// vocabulary knows, its other names also become synonyms of that drug's concept term, so a
// brand the vocabulary lacks ("Exservan") finds passages tagged XYriluzole.
std::vector<std::pair<std::string, std::string>> label_synonyms(const corpus::Record& record, const Xapian::Stem& stemmer,
                                                                const corpus::Vocabulary& vocabulary) {
  std::vector<std::pair<std::string, std::string>> out;
  if (record.source != corpus::Source::fda_label) return out;
  std::vector<std::string> brands, generics;
  for (const auto& drug : record.drugs) {
    const bool brand = std::any_of(drug.begin(), drug.end(), [](unsigned char c) { return std::isupper(c); });
    (brand ? brands : generics).push_back(drug);
  }
  auto link = [&](const std::string& from, const std::string& to) {
    std::string key = corpus::synonym_key(from, stemmer);
    std::string term = corpus::synonym_term(to, stemmer);
    if (!key.empty() && !term.empty() && key != term && key.size() <= kMaxSynonymBytes &&
        term.size() <= kMaxSynonymBytes)
      out.emplace_back(std::move(key), std::move(term));
  };
  for (const auto& brand : brands) {
    for (const auto& generic : generics) {
      link(brand, generic);
      link(generic, brand);
    }
  }
  if (generics.size() == 1) {
    std::optional<std::string> drug;
    for (const auto& name : record.drugs) {
      std::optional<std::string> id = vocabulary.find(name, stemmer);
      if (!id) continue;
      const corpus::Concept* c = vocabulary.concept_by_id(*id);
      if (c == nullptr || c->kind != "drug" || (drug && *drug != *id)) return out;  // names two concepts
      drug = std::move(id);
    }
    if (drug) {
      const std::string term = corpus::Vocabulary::term(*drug);
      for (const auto& name : record.drugs) {
        if (vocabulary.find(name, stemmer)) continue;  // already in the vocabulary's own entries
        std::string key = corpus::synonym_key(name, stemmer);
        if (!key.empty() && key.size() <= kMaxSynonymBytes) out.emplace_back(std::move(key), term);
      }
    }
  }
  return out;
}

// Adds the concept terms of `concepts` to `doc` (wdf = mentions, no positions).
void add_concepts(Xapian::Document& doc, const std::vector<std::pair<std::string, unsigned>>& concepts) {
  for (const auto& [id, count] : concepts) doc.add_term(corpus::Vocabulary::term(id), count);
}

}  // namespace

Result<PreparedRecord> DocumentBuilder::build(const corpus::Record& input, std::optional<std::uint64_t> hash) {
  Status valid = corpus::validate(input);
  if (!valid.ok()) return valid.error();
  PreparedRecord prepared;
  prepared.record_id = input.id;
  prepared.content_hash = hash ? *hash : content_hash(input, options_);
  prepared.version = input.version;
  prepared.synonyms = label_synonyms(input, stemmer_, *vocabulary_);
  // The spelling dictionary holds the names people search for and misspell: titles,
  // headings, drugs and conditions. Full text would put every typo of the corpus in it and
  // cost more at index time. Each word once per record, so a word's frequency counts records.
  corpus::append_spelling_words(input.title, prepared.spelling);
  for (const auto& section : input.sections) corpus::append_spelling_words(section.heading, prepared.spelling);
  for (const auto& drug : input.drugs) corpus::append_spelling_words(drug, prepared.spelling);
  for (const auto& condition : input.conditions) corpus::append_spelling_words(condition, prepared.spelling);
  std::sort(prepared.spelling.begin(), prepared.spelling.end());
  prepared.spelling.erase(std::unique(prepared.spelling.begin(), prepared.spelling.end()), prepared.spelling.end());

  const corpus::Record record = cleaned(input);
  const std::vector<corpus::Passage> passages = corpus::split_into_passages(record, options_);
  if (passages.empty()) return make_error(ErrorCode::invalid_argument, "field 'text': the record has no text", "text");

  const std::string record_term = schema::term(schema::kPrefixRecordId, record.id);
  // Each text is split into words once (corpus::split_words splits as Xapian's TermGenerator
  // does) and each word stemmed once; the concept tagger and the term writer both use them.
  // With XAPIAN_CJK_NGRAM set, Xapian splits CJK text into n-grams and split_words does not:
  // then TermGenerator writes the terms, as it always did before.
  const bool own_terms = !corpus::xapian_cjk_ngrams();
  struct Analysed {
    std::string text;
    std::vector<corpus::Word> words;
    std::vector<std::string> stems;
    std::vector<bool> left_out;  // stop words the index leaves out (corpus::unindexed_words)
    std::vector<std::pair<std::string, unsigned>> concepts;
  };
  auto analyse = [this, own_terms](std::string text) {
    Analysed a;
    a.text = std::move(text);
    a.words = corpus::split_words(a.text);
    a.stems.reserve(a.words.size());
    for (const auto& w : a.words) a.stems.push_back(stemmer_(w.lower));
    if (own_terms) a.left_out = corpus::unindexed_words(a.words, a.text);
    a.concepts = vocabulary_->annotate_words(a.words, a.stems);
    return a;
  };
  // The terms of one text: with positions (continuing from the last text's) or without.
  // Stop words left out still count in the passage's length (left_out_wdf, below).
  Xapian::termpos position = 0;
  Xapian::termcount left_out_wdf = 0;
  auto index_field = [&](Xapian::Document& doc, const Analysed& a, std::string_view prefix, bool positions) {
    if (own_terms) {
      left_out_wdf += corpus::index_words(doc, a.words, a.stems, prefix, positions ? &position : nullptr, &a.left_out);
    } else if (positions) {
      generator_.set_termpos(position);
      generator_.index_text(a.text, 1, std::string(prefix));
      position = generator_.get_termpos();
    } else {
      generator_.index_text_without_positions(a.text, 1, std::string(prefix));
    }
  };
  constexpr Xapian::termpos kFieldGap = 100;  // TermGenerator::increase_termpos()'s default
  const Analysed title = analyse(corpus::normalize_for_analysis(record.title));
  const int year = record.year();
  const std::string hash_value = encode_hash(prepared.content_hash);
  std::string drug_list;
  for (const auto& drug : record.drugs) {
    if (!drug_list.empty()) drug_list += '\n';
    drug_list += lower_ascii(drug);
  }
  try {
    for (const corpus::Passage& passage : passages) {
      Xapian::Document doc;
      generator_.set_document(doc);
      position = 0;
      left_out_wdf = 0;
      // Title words are indexed with the S prefix (for title: searches) and in the body,
      // so that every passage of a record matches the record's subject.
      // Prefixed copies go without positions: title:/heading: match words, and positions are a
      // large share of Xapian's write cost.
      index_field(doc, title, schema::kPrefixTitle, false);
      index_field(doc, title, "", true);
      position += kFieldGap;
      add_concepts(doc, title.concepts);
      if (!passage.heading.empty()) {
        const Analysed heading = analyse(corpus::normalize_for_analysis(passage.heading));
        index_field(doc, heading, schema::kPrefixHeading, false);
        index_field(doc, heading, "", true);
        position += kFieldGap;
        add_concepts(doc, heading.concepts);
      }
      const Analysed text = analyse(corpus::normalize_for_analysis(passage.text));
      index_field(doc, text, "", true);
      if (!own_terms) corpus::move_cjk_ngrams_unstemmed(doc);  // as QueryParser searches them
      // Concepts the passage names, by any of their names: "ALS" finds "Lou Gehrig's disease".
      add_concepts(doc, text.concepts);

      // The passage id term's wdf is the number of stop words left out, so that Xapian's
      // document length (the sum of the wdfs) still counts every word: BM25's length
      // normalisation, and so every score, is what it was when stop words were indexed.
      const std::string id_term = schema::term(schema::kPrefixPassageId, passage.id);
      doc.add_term(id_term, left_out_wdf);
      doc.add_boolean_term(record_term);
      doc.add_boolean_term(schema::term(schema::kPrefixSource, corpus::to_string(record.source)));
      const std::string section_key = lower_ascii(passage.section);
      if (!section_key.empty()) doc.add_boolean_term(schema::term(schema::kPrefixSection, section_key));
      if (year > 0) doc.add_boolean_term(schema::term(schema::kPrefixYear, std::to_string(year)));
      for (const auto& drug : record.drugs)
        doc.add_boolean_term(schema::term(schema::kPrefixDrug, lower_ascii(drug)));
      for (const auto& condition : record.conditions)
        doc.add_boolean_term(schema::term(schema::kPrefixCondition, lower_ascii(condition)));
      for (const auto& heading : record.mesh_terms)
        doc.add_boolean_term(schema::term(schema::kPrefixMesh, lower_ascii(heading)));
      for (const auto& type : record.publication_types)
        doc.add_boolean_term(schema::term(schema::kPrefixPubType, lower_ascii(type)));
      if (!record.evidence_level.empty())
        doc.add_boolean_term(schema::term(schema::kPrefixEvidence, record.evidence_level));
      if (!record.review_status.empty())
        doc.add_boolean_term(schema::term(schema::kPrefixReviewStatus, record.review_status));

      doc.add_value(schema::kSlotRecordId, record.id);
      doc.add_value(schema::kSlotPassageId, passage.id);
      doc.add_value(schema::kSlotSource, std::string(corpus::to_string(record.source)));
      doc.add_value(schema::kSlotContentHash, hash_value);
      if (year > 0) doc.add_value(schema::kSlotYear, Xapian::sortable_serialise(year));
      if (!section_key.empty()) doc.add_value(schema::kSlotSection, section_key);
      if (!record.evidence_level.empty()) doc.add_value(schema::kSlotEvidence, record.evidence_level);
      if (!drug_list.empty()) doc.add_value(schema::kSlotDrugs, drug_list);
      if (record.version > 0)
        doc.add_value(schema::kSlotVersion, Xapian::sortable_serialise(static_cast<double>(record.version)));
      doc.add_value(schema::kSlotFacets, schema::encode_facet_fields({schema::facet_record_key(record.id), corpus::to_string(record.source),
                                                                      year > 0 ? year : 0, record.evidence_level,
                                                                      drug_list, section_key}));
      doc.add_value(schema::kSlotStored, schema::encode_document_data(schema::make_stored_passage(record, passage)));
      prepared.passages.emplace_back(id_term, std::move(doc));
    }
  } catch (const Xapian::Error& e) {
    return corpus::error_from_xapian(e, "analysing record " + record.id);
  }
  return prepared;
}

Result<std::unique_ptr<Indexer>> Indexer::open(const std::string& path, IndexerOptions options) {
  try {
    Xapian::WritableDatabase db(path, Xapian::DB_CREATE_OR_OPEN);
    Status version = schema::check_version(db);
    if (!version.ok()) return make_error(version.error().code, path + ": " + version.error().message);
    return std::make_unique<Indexer>(std::move(db), options);
  } catch (const Xapian::DatabaseLockError& e) {
    // Xapian throws this also when it cannot create or open the lock file (no permission, a
    // read-only file system); only "already locked" means another writer holds it.
    if (e.get_msg().find("already locked") == std::string::npos)
      return make_error(ErrorCode::unavailable, path + ": cannot lock the index for writing (" + e.get_msg() + ")");
    return make_error(ErrorCode::unavailable, path + ": the index is locked by another writer (" + e.get_msg() + ")");
  } catch (const Xapian::Error& e) {
    return corpus::error_from_xapian(e, path);
  }
}

Indexer::Indexer(Xapian::WritableDatabase db, IndexerOptions options)
    : db_(std::move(db)), options_(options), builder_(options.passages) {
  // Only when it differs: setting it anyway made every open a commit of its own (a write
  // request's batch was then two revisions, and a reader between them had to reopen).
  const std::string version_key(schema::kMetaSchemaVersion), version = std::to_string(schema::kVersion);
  if (db_.get_metadata(version_key) != version) db_.set_metadata(version_key, version);
  write_vocabulary();
  load_known();
  // Everything between two commits is one Xapian transaction. Outside a transaction Xapian
  // commits whenever its flush threshold is reached; inside one it only moves the buffered
  // postings into the tables, so a small threshold (pipeline.cc sets it) keeps the inverter's
  // maps small and fast while readers still see whole commits of `commit_every` records.
  begin();
}

void Indexer::begin() {
  try {
    db_.begin_transaction();
    in_transaction_ = true;
  } catch (const Xapian::UnimplementedError&) {
    in_transaction_ = false;  // the in-memory backend has no transactions (and no flushes)
  }
}

void Indexer::write_vocabulary() {
  // Once per database and vocabulary: the metadata key holds the hash of the vocabulary whose
  // entries the synonym table has. A changed vocabulary first drops every concept-term entry
  // (those of labels come back as the labels are re-indexed: the vocabulary is part of every
  // record's content hash).
  const corpus::Vocabulary& vocabulary = corpus::builtin_vocabulary();
  const std::string key(schema::kMetaVocabulary);
  const std::string hash = std::to_string(vocabulary.hash());
  if (db_.get_metadata(key) == hash) return;
  try {
    std::vector<std::pair<std::string, std::string>> stale;
    for (auto k = db_.synonym_keys_begin(); k != db_.synonym_keys_end(); ++k)
      for (auto v = db_.synonyms_begin(*k); v != db_.synonyms_end(*k); ++v)
        if (std::string_view(*v).substr(0, schema::kPrefixConcept.size()) == schema::kPrefixConcept)
          stale.emplace_back(*k, *v);
    for (const auto& [k, v] : stale) db_.remove_synonym(k, v);
    for (const auto& [k, v] : vocabulary.synonym_entries()) db_.add_synonym(k, v);
  } catch (const Xapian::UnimplementedError&) {
    return;  // the in-memory backend keeps no synonyms
  }
  db_.set_metadata(key, hash);
}

Indexer::~Indexer() {
  // Xapian would cancel an open transaction; commit it, as Xapian commits a database closed
  // outside one (metadata set by the caller included).
  try {
    if (in_transaction_) db_.commit_transaction();
    else if (pending_ > 0) db_.commit();
  } catch (const Xapian::Error&) {
    // Nothing to report to in a destructor; callers that care call commit() themselves.
  }
}

void Indexer::load_known() {
  // One pass over three value streams: record id, content hash and version of every passage.
  auto ids = db_.valuestream_begin(schema::kSlotRecordId);
  auto hashes = db_.valuestream_begin(schema::kSlotContentHash);
  auto versions = db_.valuestream_begin(schema::kSlotVersion);
  const auto end = db_.valuestream_end(0);
  for (; ids != end; ++ids) {
    const Xapian::docid did = ids.get_docid();
    Known& known = known_[*ids];
    if (hashes != end) {
      hashes.skip_to(did);
      if (hashes != end && hashes.get_docid() == did) known.hash = decode_hash(*hashes);
    }
    if (versions != end) {
      versions.skip_to(did);
      if (versions != end && versions.get_docid() == did)
        known.version = static_cast<long long>(Xapian::sortable_unserialise(*versions));
    }
  }
}

bool Indexer::holds(const std::string& record_id, std::uint64_t hash) const {
  auto it = known_.find(record_id);
  return it != known_.end() && it->second.hash == hash;
}

std::unordered_map<std::string, std::uint64_t> Indexer::known_hashes() const {
  std::unordered_map<std::string, std::uint64_t> out;
  out.reserve(known_.size());
  for (const auto& [id, known] : known_) out.emplace(id, known.hash);
  return out;
}

Result<std::size_t> Indexer::add(const corpus::Record& record) {
  auto prepared = builder_.build(record);
  if (!prepared.ok()) return prepared.error();
  auto written = write(*prepared);
  if (!written.ok()) return written.error();
  return prepared->passages.size();
}

Result<WriteOutcome> Indexer::write(const PreparedRecord& record) {
  auto it = known_.find(record.record_id);
  const bool exists = it != known_.end();
  if (exists) {
    if (it->second.hash == record.content_hash && record.content_hash != 0) return WriteOutcome::unchanged;
    if (record.version > 0 && it->second.version > record.version) return WriteOutcome::superseded;
  }
  try {
    // Remove the record's old passages first, so a record that now has fewer passages leaves
    // none behind. A record the index has never seen needs no lookup at all.
    if (exists) db_.delete_document(schema::term(schema::kPrefixRecordId, record.record_id));
    for (const auto& passage : record.passages) db_.add_document(passage.second);
    for (const auto& word : record.spelling) {
      try {
        db_.add_spelling(word);
      } catch (const Xapian::UnimplementedError&) {
        break;  // a backend without a spelling table
      }
    }
    for (const auto& [key, term] : record.synonyms) {
      try {
        db_.add_synonym(key, term);
      } catch (const Xapian::UnimplementedError&) {
        break;  // the in-memory backend keeps no synonyms; nothing else to do
      }
    }
  } catch (const Xapian::Error& e) {
    return corpus::error_from_xapian(e, "indexing record " + record.record_id);
  }
  known_[record.record_id] = Known{record.content_hash, record.version};
  ++pending_;
  Status committed = maybe_commit();
  if (!committed.ok()) return committed.error();
  return exists ? WriteOutcome::replaced : WriteOutcome::added;
}

Result<std::size_t> Indexer::remove(const std::string& record_id) {
  const std::string record_term = schema::term(schema::kPrefixRecordId, record_id);
  try {
    const Xapian::doccount count = db_.get_termfreq(record_term);
    if (count == 0) return make_error(ErrorCode::not_found, "no record with id '" + record_id + "'", "id");
    db_.delete_document(record_term);
    known_.erase(record_id);
    ++pending_;
    Status committed = maybe_commit();
    if (!committed.ok()) return committed.error();
    return static_cast<std::size_t>(count);
  } catch (const Xapian::Error& e) {
    return corpus::error_from_xapian(e, "deleting record " + record_id);
  }
}

Status Indexer::commit() {
  try {
    if (in_transaction_) {
      in_transaction_ = false;
      db_.commit_transaction();  // durable: a flushed transaction commits
      begin();
    } else {
      db_.commit();
    }
    pending_ = 0;
    return Status::success();
  } catch (const Xapian::Error& e) {
    return corpus::error_from_xapian(e, "commit");
  }
}

void Indexer::discard() {
  try {
    if (in_transaction_) {
      in_transaction_ = false;
      db_.cancel_transaction();
    }
  } catch (const Xapian::Error&) {
    // The database is closed with whatever it had committed; nothing more to undo.
  }
  pending_ = 0;
}

Status Indexer::maybe_commit() {
  if (options_.commit_every > 0 && pending_ >= options_.commit_every) return commit();
  return Status::success();
}

}  // namespace medsearch::indexer
