// The indexer: Records -> passages -> Xapian documents, with explicit commits. One writer
// per index (Xapian's rule); not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <xapian.h>

#include "corpus/passage.h"
#include "corpus/reader.h"
#include "corpus/record.h"
#include "corpus/result.h"

namespace medsearch::indexer {

using corpus::Error;
using corpus::ErrorCode;
using corpus::Result;
using corpus::Status;

struct IndexerOptions {
  corpus::PassageOptions passages;
  // Commit after this many records (the index is consistent at every commit).
  std::uint32_t commit_every = 10000;
};

class Indexer {
 public:
  // Opens or creates the on-disk index at `path`. Fails with `unavailable` when it cannot be
  // opened (locked by another writer, no permission) and `corrupt` when its schema is not ours.
  static Result<std::unique_ptr<Indexer>> open(const std::string& path, IndexerOptions options = {});
  // Wraps an existing writable database (an in-memory one in tests).
  explicit Indexer(Xapian::WritableDatabase db, IndexerOptions options = {});
  ~Indexer();  // commits what is pending, best effort

  // Adds or replaces a record: its old passages are removed and the new ones added, so
  // re-indexing the same record is idempotent. Validates first. Returns the passage count.
  Result<std::size_t> add(const corpus::Record& record);

  // Removes a record and all its passages; not_found if no passage has that record id.
  Result<std::size_t> remove(const std::string& record_id);

  // Makes everything added so far durable and visible to readers.
  Status commit();

  Xapian::WritableDatabase& database() { return db_; }

 private:
  Status maybe_commit();

  Xapian::WritableDatabase db_;
  IndexerOptions options_;
  Xapian::TermGenerator generator_;
  std::uint32_t pending_ = 0;
};

// Counts for a bulk run; read == indexed + rejected.
struct RunCounts {
  std::uint64_t read = 0;
  std::uint64_t indexed = 0;
  std::uint64_t rejected = 0;
  std::uint64_t passages = 0;
};

// Reads every input with the given format and adds its records to `indexer`, reporting each
// rejected record through `report("file:line: reason")` and carrying on; commits at the end.
// Returns an error only for problems that stop the run (an input that cannot be opened is
// reported and skipped, and makes the result an `unavailable` error after the other inputs
// have been indexed).
struct RunResult {
  RunCounts counts;
  std::vector<Error> input_errors;  // files that could not be read at all
};
Result<RunResult> index_files(Indexer& indexer, const std::vector<std::string>& inputs,
                              corpus::Format format,
                              const std::function<void(const std::string&)>& report);

}  // namespace medsearch::indexer
