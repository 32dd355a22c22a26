// Bulk indexing: inputs -> framed items -> parsed and analysed records (on every core) ->
// shard writers (one Xapian writer per shard), with resumable runs, progress and counts that
// add up. Also the on-disk layout of a sharded index.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corpus/reader.h"
#include "indexer/indexer.h"

namespace medsearch::indexer {

// The shard a record belongs to: a stable hash (FNV-1a 64) of its id modulo the shard count,
// the same on every machine, so upserts and deletes reach the shard that holds the record.
std::uint32_t shard_of(std::string_view record_id, std::uint32_t shard_count);

// An index on disk is either one Xapian database in `dir`, or `shards` databases in
// dir/shard-NNN with a Xapian stub file dir/XAPIANDB listing them, so that
// Xapian::Database(dir) opens all of them as one.
struct Layout {
  std::string dir;
  std::vector<std::string> shard_paths;  // one entry (== dir) when not sharded
};

// True when `dir` holds an index (one database or a stub of shards).
bool index_exists(const std::string& dir);

// Opens the layout of an existing index, or makes one for `requested` shards (default 1) when
// `dir` does not hold an index yet. An existing index keeps its shard count; asking for a
// different one is refused with invalid_argument naming "--shards".
Result<Layout> open_layout(const std::string& dir, std::optional<std::uint32_t> requested);

struct BulkOptions {
  IndexerOptions indexer;
  unsigned threads = 0;        // parse/analysis workers; 0 = hardware concurrency
  bool dry_run = false;        // read, validate and split, write nothing
  std::string rejects_path;    // when set, rejected items' raw text is appended here
  // Progress: called about once a second from a background thread (and once at the end).
  std::function<void(const struct Progress&)> on_progress;
  // Each rejected record as "location: reason", from one thread at a time.
  std::function<void(const std::string&)> on_reject;
  // Asked by the reading thread before each record (medsearch-index: SIGINT or SIGTERM came).
  // Once it says true, reading stops; what was read is indexed and committed as in a run that
  // ended, the counts add up over it, and BulkSummary::interrupted is set.
  std::function<bool()> stop_requested;
};

struct InputCounts {
  std::string path;
  std::string format;
  std::uint64_t read = 0;
  std::uint64_t rejected = 0;
  std::string error;  // the file could not be read at all
};

// Counts of a run. read = indexed + rejected, and indexed = added + replaced + unchanged +
// superseded (unchanged and superseded records are accounted for, just not rewritten).
struct Progress {
  std::uint64_t read = 0;
  std::uint64_t indexed = 0;
  std::uint64_t added = 0;
  std::uint64_t replaced = 0;
  std::uint64_t unchanged = 0;
  std::uint64_t superseded = 0;
  std::uint64_t rejected = 0;
  std::uint64_t deleted = 0;          // records removed by deletion items (PubMed DeleteCitation)
  std::uint64_t passages = 0;         // passages written
  std::uint64_t bytes_read = 0;       // input bytes consumed (compressed bytes for .gz)
  std::uint64_t bytes_total = 0;      // input bytes in all inputs
  double seconds = 0;
  bool done = false;
};

struct BulkSummary {
  Progress counts;
  std::vector<InputCounts> inputs;
  std::uint32_t shards = 1;
  unsigned threads = 1;
  bool dry_run = false;
  bool interrupted = false;  // stop_requested stopped the reading before the inputs' end
};

// Indexes `inputs` into the index at `layout` (created if needed), reading each file with
// `format` (or detecting it). Rejected records are reported and counted and the run carries
// on; a file that cannot be read is counted in its InputCounts and the run carries on. Fails
// only when the index itself fails (cannot be opened, disk full): what was committed stays.
// Rerunning an interrupted run completes it: records already indexed with the same content
// are skipped without analysis.
Result<BulkSummary> index_files(const Layout& layout, const std::vector<std::string>& inputs,
                                corpus::Format format, const BulkOptions& options);

// The same over already-open writers (one per shard, in shard order): for tests and for
// callers that hold their own databases.
Result<BulkSummary> index_files(const std::vector<Indexer*>& shards, const std::vector<std::string>& inputs,
                                corpus::Format format, const BulkOptions& options);

// Deletes records by id from the index at `layout`, each from its shard. Returns how many
// passages each removed, or not_found for ids not in the index.
std::vector<Result<std::size_t>> delete_records(const Layout& layout, const std::vector<std::string>& ids,
                                               const IndexerOptions& options);

// Merges the shards of `layout` into one database with Xapian's compactor (in place: the
// result replaces the shards atomically by rename). A one-database index is compacted too.
Status compact(const Layout& layout);

// The index's revision: Xapian's revision of a one-database index, the sum of the shards'
// revisions for a sharded one (it rises with every commit to any shard). unavailable when it
// cannot be opened.
Result<std::uint64_t> index_revision(const std::string& dir);

// Writes the lexicon of the index at `dir` to a new database at `out` (replacing one there):
// its spelling dictionary (with frequencies), synonym table and metadata, and no documents.
// A coordinator searching remote shards needs it, since Xapian 1.4's remote backend serves
// neither spellings nor synonyms (searcher/shards.h, ShardOptions::lexicon). Rerun it after
// each indexing run. Errors: unavailable when either database cannot be opened or written.
Status export_lexicon(const std::string& dir, const std::string& out);

// The summary as one JSON object (for --json-summary).
std::string summary_json(const BulkSummary& summary);

}  // namespace medsearch::indexer
