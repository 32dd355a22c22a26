// Records -> passages -> Xapian documents. Every passage carries the terms and values the
// searcher filters, collapses and ranks on (see corpus/schema.h).
#include "indexer/indexer.h"

#include <algorithm>

#include "corpus/analysis.h"
#include "corpus/schema.h"

namespace medsearch::indexer {

namespace schema = corpus::schema;
using corpus::make_error;

namespace {

Error from_xapian(const Xapian::Error& e, const std::string& what) {
  const std::string type = e.get_type();
  ErrorCode code = ErrorCode::internal;
  if (type == "DatabaseLockError" || type == "DatabaseOpeningError" || type == "DatabaseNotFoundError")
    code = ErrorCode::unavailable;
  else if (type == "DatabaseCorruptError" || type == "DatabaseVersionError")
    code = ErrorCode::corrupt;
  else if (type == "DatabaseError")
    code = ErrorCode::unavailable;  // typically I/O: disk full, permissions
  return make_error(code, what + ": " + e.get_description());
}

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

Result<std::unique_ptr<Indexer>> Indexer::open(const std::string& path, IndexerOptions options) {
  try {
    Xapian::WritableDatabase db(path, Xapian::DB_CREATE_OR_OPEN);
    Status version = schema::check_version(db);
    if (!version.ok()) return make_error(version.error().code, path + ": " + version.error().message);
    return std::make_unique<Indexer>(std::move(db), options);
  } catch (const Xapian::DatabaseLockError& e) {
    return make_error(ErrorCode::unavailable, path + ": the index is locked by another writer (" + e.get_msg() + ")");
  } catch (const Xapian::Error& e) {
    return from_xapian(e, path);
  }
}

Indexer::Indexer(Xapian::WritableDatabase db, IndexerOptions options) : db_(std::move(db)), options_(options) {
  corpus::configure_term_generator(generator_);
  db_.set_metadata(std::string(schema::kMetaSchemaVersion), std::to_string(schema::kVersion));
}

Indexer::~Indexer() {
  if (pending_ > 0) {
    try {
      db_.commit();
    } catch (const Xapian::Error&) {
      // Nothing to report to in a destructor; callers that care call commit() themselves.
    }
  }
}

Result<std::size_t> Indexer::add(const corpus::Record& input) {
  Status valid = corpus::validate(input);
  if (!valid.ok()) return valid.error();
  const corpus::Record record = cleaned(input);
  const std::vector<corpus::Passage> passages = corpus::split_into_passages(record, options_.passages);
  if (passages.empty()) return make_error(ErrorCode::invalid_argument, "field 'text': the record has no text", "text");

  const std::string record_term = schema::term(schema::kPrefixRecordId, record.id);
  const std::string title = corpus::normalize_for_analysis(record.title);
  const int year = record.year();
  try {
    // Remove the record's old passages first, so a record that now has fewer passages
    // leaves none behind.
    if (db_.term_exists(record_term)) db_.delete_document(record_term);
    for (const corpus::Passage& passage : passages) {
      Xapian::Document doc;
      generator_.set_document(doc);
      // Title words are indexed with the S prefix (for title: searches) and in the body,
      // so that every passage of a record matches the record's subject.
      generator_.index_text(title, 1, std::string(schema::kPrefixTitle));
      generator_.index_text(title);
      generator_.increase_termpos();
      if (!passage.heading.empty()) {
        const std::string heading = corpus::normalize_for_analysis(passage.heading);
        generator_.index_text(heading, 1, std::string(schema::kPrefixHeading));
        generator_.index_text(heading);
        generator_.increase_termpos();
      }
      generator_.index_text(corpus::normalize_for_analysis(passage.text));

      doc.add_boolean_term(schema::term(schema::kPrefixPassageId, passage.id));
      doc.add_boolean_term(record_term);
      doc.add_boolean_term(schema::term(schema::kPrefixSource, corpus::to_string(record.source)));
      if (!passage.section.empty())
        doc.add_boolean_term(schema::term(schema::kPrefixSection, lower_ascii(passage.section)));
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
      if (year > 0) doc.add_value(schema::kSlotYear, Xapian::sortable_serialise(year));
      if (record.version > 0)
        doc.add_value(schema::kSlotVersion, Xapian::sortable_serialise(static_cast<double>(record.version)));
      doc.set_data(schema::encode_document_data(schema::make_stored_passage(record, passage)));

      db_.replace_document(schema::term(schema::kPrefixPassageId, passage.id), doc);
    }
  } catch (const Xapian::Error& e) {
    return from_xapian(e, "indexing record " + record.id);
  }
  ++pending_;
  Status committed = maybe_commit();
  if (!committed.ok()) return committed.error();
  return passages.size();
}

Result<std::size_t> Indexer::remove(const std::string& record_id) {
  const std::string record_term = schema::term(schema::kPrefixRecordId, record_id);
  try {
    const Xapian::doccount count = db_.get_termfreq(record_term);
    if (count == 0) return make_error(ErrorCode::not_found, "no record with id '" + record_id + "'", "id");
    db_.delete_document(record_term);
    ++pending_;
    Status committed = maybe_commit();
    if (!committed.ok()) return committed.error();
    return static_cast<std::size_t>(count);
  } catch (const Xapian::Error& e) {
    return from_xapian(e, "deleting record " + record_id);
  }
}

Status Indexer::commit() {
  try {
    db_.commit();
    pending_ = 0;
    return Status::success();
  } catch (const Xapian::Error& e) {
    return from_xapian(e, "commit");
  }
}

Status Indexer::maybe_commit() {
  if (options_.commit_every > 0 && pending_ >= options_.commit_every) return commit();
  return Status::success();
}

Result<RunResult> index_files(Indexer& indexer, const std::vector<std::string>& inputs, corpus::Format format,
                              const std::function<void(const std::string&)>& report) {
  RunResult result;
  for (const std::string& input : inputs) {
    auto reader = corpus::open_reader(input, format);
    if (!reader.ok()) {
      report(reader.error().message);
      result.input_errors.push_back(reader.error());
      continue;
    }
    corpus::ReadItem item;
    while ((*reader)->next(item)) {
      ++result.counts.read;
      if (!item.record) {
        ++result.counts.rejected;
        report(item.location + ": " + item.error.message);
        continue;
      }
      auto added = indexer.add(*item.record);
      if (added.ok()) {
        ++result.counts.indexed;
        result.counts.passages += added.value();
        continue;
      }
      const Error& e = added.error();
      if (e.code == ErrorCode::invalid_argument || e.code == ErrorCode::parse) {
        ++result.counts.rejected;
        report(item.location + ": " + e.message);
        continue;
      }
      // The index itself failed (disk full, lock lost): stop; what was committed stays.
      ++result.counts.rejected;
      report(item.location + ": " + e.message);
      Status committed = indexer.commit();
      (void)committed;
      return make_error(e.code, item.location + ": " + e.message);
    }
  }
  Status committed = indexer.commit();
  if (!committed.ok()) return committed.error();
  return result;
}

}  // namespace medsearch::indexer
