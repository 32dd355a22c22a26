// The indexer: Records -> passages -> Xapian documents, with explicit commits.
//
// Two halves, so bulk runs can use every core: DocumentBuilder turns a record into prepared
// Xapian documents (pure work; one builder per thread), and Indexer writes prepared records
// into one database (Xapian allows one writer per database; an Indexer is not thread-safe).
// Bulk runs over several shards live in indexer/pipeline.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <xapian.h>

#include "corpus/passage.h"
#include "corpus/reader.h"
#include "corpus/record.h"
#include "corpus/result.h"
#include "corpus/vocabulary.h"

namespace medsearch::indexer {

using corpus::Error;
using corpus::ErrorCode;
using corpus::Result;
using corpus::Status;

struct IndexerOptions {
  corpus::PassageOptions passages;
  // Commit after this many written records (the index is consistent at every commit).
  std::uint32_t commit_every = 10000;
};

// A record made ready for writing: its passages as Xapian documents keyed by their unique id
// term, and what is needed to decide whether writing is necessary.
struct PreparedRecord {
  std::string record_id;
  std::uint64_t content_hash = 0;
  long long version = 0;
  std::vector<std::pair<std::string, Xapian::Document>> passages;  // {Q term, document}
  // Synonym-table entries the record teaches: an FDA label's brand and generic names, and
  // its names the vocabulary does not know -> the drug's concept term.
  std::vector<std::pair<std::string, std::string>> synonyms;  // {key, term}
  // Words for the spelling dictionary (corpus/spelling.h): those of the title, the section
  // headings, the drug and the condition names, each once per record.
  std::vector<std::string> spelling;
};

// A stable 64-bit hash of what a record's passages depend on: the record's content, the
// passage options, the schema version and the built-in vocabulary (so a change in any of them
// re-indexes the record). FNV-1a; the same on every platform and run.
std::uint64_t content_hash(const corpus::Record& record, const corpus::PassageOptions& options);

// Builds prepared records. Holds a TermGenerator and a stemmer with a word cache: one builder
// per thread. Passages are tagged with the concepts of `vocabulary` (which must outlive the
// builder; the built-in one by default).
class DocumentBuilder {
 public:
  explicit DocumentBuilder(corpus::PassageOptions options = {},
                           const corpus::Vocabulary& vocabulary = corpus::builtin_vocabulary());
  // Validates, cleans, splits and analyses. Errors are invalid_argument naming the field.
  // `hash` is the record's content_hash when the caller has already computed it.
  Result<PreparedRecord> build(const corpus::Record& record, std::optional<std::uint64_t> hash = std::nullopt);

  const corpus::PassageOptions& options() const { return options_; }

 private:
  corpus::PassageOptions options_;
  const corpus::Vocabulary* vocabulary_;
  Xapian::TermGenerator generator_;
  Xapian::Stem stemmer_;
};

// What writing a prepared record did.
enum class WriteOutcome {
  added,       // the record was new
  replaced,    // an earlier version of its content was replaced
  unchanged,   // the index already holds exactly this content: nothing written
  superseded,  // the index holds a newer version of this record: nothing written
};

class Indexer {
 public:
  // Opens or creates the on-disk index (one database, or one shard) at `path`. Fails with
  // `unavailable` when it cannot be opened (locked by another writer, no permission) and
  // `corrupt` when its schema is not ours.
  static Result<std::unique_ptr<Indexer>> open(const std::string& path, IndexerOptions options = {});
  // Wraps an existing writable database (an in-memory one in tests). Writes the built-in
  // vocabulary's synonyms into the database's synonym table unless the metadata key
  // medsearch.vocabulary says they are there (the in-memory backend has no synonym table).
  explicit Indexer(Xapian::WritableDatabase db, IndexerOptions options = {});
  ~Indexer();  // commits what is pending, best effort

  // Adds or replaces a record: builds it and writes it. Re-indexing the same record is
  // idempotent. Returns the passage count.
  Result<std::size_t> add(const corpus::Record& record);

  // Writes a prepared record: skipped when the index already has the same content or a newer
  // version; otherwise the record's old passages are removed and the new ones added.
  Result<WriteOutcome> write(const PreparedRecord& record);

  // True when the index holds `record_id` with this content hash (so it need not be built).
  bool holds(const std::string& record_id, std::uint64_t hash) const;
  // A copy of record id -> content hash for every record in the index.
  std::unordered_map<std::string, std::uint64_t> known_hashes() const;

  // Removes a record and all its passages; not_found if no passage has that record id.
  Result<std::size_t> remove(const std::string& record_id);

  // Makes everything written so far durable and visible to readers.
  Status commit();

  // Drops everything written since the last commit (the open transaction is cancelled), for
  // a caller that failed half-way and must leave the index as it was; the destructor then
  // commits nothing. What the Indexer knows of the index is stale afterwards: close it.
  void discard();

  // Records written or removed since the last commit.
  std::uint32_t pending() const { return pending_; }

  Xapian::WritableDatabase& database() { return db_; }
  const IndexerOptions& options() const { return options_; }

 private:
  struct Known {
    std::uint64_t hash = 0;
    long long version = 0;
  };
  void load_known();
  void write_vocabulary();
  void begin();  // starts the transaction that the next commit() commits
  Status maybe_commit();

  Xapian::WritableDatabase db_;
  IndexerOptions options_;
  DocumentBuilder builder_;
  std::unordered_map<std::string, Known> known_;  // record id -> what the index holds
  std::uint32_t pending_ = 0;
  bool in_transaction_ = false;
};

}  // namespace medsearch::indexer
