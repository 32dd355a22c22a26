// The bulk pipeline. One thread frames items from the inputs in order; workers parse and
// analyse batches on every core; a router puts the results back in input order (so reject
// reports and duplicate-id resolution do not depend on thread timing) and hands each record
// to its shard's writer thread; writers commit every N records.
#include "indexer/pipeline.h"

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "corpus/schema.h"
#include "corpus/xapian_error.h"

namespace medsearch::indexer {

namespace fs = std::filesystem;
namespace schema = corpus::schema;
using corpus::make_error;

namespace {

constexpr const char* kStubName = "XAPIANDB";
constexpr const char* kMetaShards = "medsearch.shards";
constexpr const char* kMetaShard = "medsearch.shard";
constexpr std::size_t kBatchItems = 128;
// Documents (passages) a shard writer buffers before Xapian moves them into its tables.
constexpr unsigned kFlushThreshold = 500;

// A bounded blocking queue; close() wakes everyone and makes pop() drain then return false.
template <typename T>
class Queue {
 public:
  explicit Queue(std::size_t capacity) : capacity_(capacity) {}
  bool push(T value) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_ || closed_; });
    if (closed_) return false;
    items_.push_back(std::move(value));
    not_empty_.notify_one();
    return true;
  }
  bool pop(T& out) {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return false;
    out = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<T> items_;
  bool closed_ = false;
};

struct Batch {
  std::uint64_t seq = 0;
  std::size_t input = 0;
  std::shared_ptr<corpus::RecordReader> reader;  // parse() needs it; freed with the last batch
  std::vector<corpus::RawItem> raws;
};

enum class Kind { record, unchanged_candidate, rejected, deletion };

struct Outcome {
  Kind kind = Kind::rejected;
  std::size_t input = 0;
  std::string location;
  std::string message;  // rejection reason
  std::string raw;
  std::vector<std::string> deleted_ids;
  std::optional<PreparedRecord> prepared;  // kind == record (not in a dry run)
  std::optional<corpus::Record> record;    // kind == unchanged_candidate: rebuilt if it did change
  std::uint64_t hash = 0;
  std::string record_id;
  bool input_failed = false;  // the whole input could not be opened (message says why)
};

struct ParsedBatch {
  std::uint64_t seq = 0;
  std::vector<Outcome> outcomes;
};

// Work for one shard's writer.
struct ShardWork {
  enum class Op { write, build_and_write, remove } op = Op::write;
  PreparedRecord prepared;
  corpus::Record record;
  std::uint64_t hash = 0;
  std::string id;
  std::string location;
};

struct Counters {
  std::atomic<std::uint64_t> read{0}, added{0}, replaced{0}, unchanged{0}, superseded{0}, rejected{0},
      deleted{0}, passages{0}, bytes_read{0};
};

}  // namespace

std::uint32_t shard_of(std::string_view record_id, std::uint32_t shard_count) {
  return shard_count <= 1 ? 0 : static_cast<std::uint32_t>(schema::stable_hash(record_id) % shard_count);
}

namespace {

std::string shard_name(std::uint32_t i) {
  char name[32];
  std::snprintf(name, sizeof name, "shard-%03u", i);
  return name;
}

}  // namespace

bool index_exists(const std::string& dir) {
  std::error_code ec;
  const fs::path path(dir);
  return fs::exists(path / kStubName, ec) || fs::exists(path / "iamglass", ec) || fs::exists(path / "iamchert", ec);
}

Result<Layout> open_layout(const std::string& dir, std::optional<std::uint32_t> requested) {
  Layout layout;
  layout.dir = dir;
  if (requested && (*requested < 1 || *requested > 256))
    return make_error(ErrorCode::invalid_argument, "--shards must be between 1 and 256", "--shards");
  std::error_code ec;
  const fs::path stub = fs::path(dir) / kStubName;
  if (fs::exists(stub, ec)) {
    std::ifstream in(stub);
    std::string line;
    while (std::getline(in, line)) {
      // Lines are "auto shard-NNN" (Xapian's stub format: backend and relative path).
      auto space = line.find(' ');
      if (line.empty() || line[0] == '#' || space == std::string::npos) continue;
      layout.shard_paths.push_back((fs::path(dir) / line.substr(space + 1)).string());
    }
    if (layout.shard_paths.empty())
      return make_error(ErrorCode::corrupt, stub.string() + ": lists no shards");
    if (requested && *requested != layout.shard_paths.size())
      return make_error(ErrorCode::invalid_argument,
                        dir + ": the index has " + std::to_string(layout.shard_paths.size()) + " shards; --shards " +
                            std::to_string(*requested) + " would send records to the wrong shards (use the same "
                            "count, or index into a new --db)",
                        "--shards");
    return layout;
  }
  if (index_exists(dir)) {
    if (requested && *requested != 1)
      return make_error(ErrorCode::invalid_argument,
                        dir + ": the index is one database; --shards " + std::to_string(*requested) +
                            " cannot re-shard it (index into a new --db)",
                        "--shards");
    layout.shard_paths.push_back(dir);
    return layout;
  }
  const std::uint32_t shards = requested.value_or(1);
  if (shards == 1) {
    layout.shard_paths.push_back(dir);
    return layout;
  }
  for (std::uint32_t i = 0; i < shards; ++i) layout.shard_paths.push_back((fs::path(dir) / shard_name(i)).string());
  return layout;
}

namespace {

// Writes the stub file once every shard exists, so a reader never sees a stub naming a
// missing database. Written to a temporary name and renamed into place.
Status write_stub(const Layout& layout) {
  if (layout.shard_paths.size() == 1 && layout.shard_paths[0] == layout.dir) return Status::success();
  const fs::path stub = fs::path(layout.dir) / kStubName;
  const fs::path tmp = fs::path(layout.dir) / (std::string(kStubName) + ".tmp");
  {
    std::ofstream out(tmp);
    for (const auto& path : layout.shard_paths) out << "auto " << fs::path(path).filename().string() << "\n";
    if (!out) return make_error(ErrorCode::unavailable, tmp.string() + ": cannot write");
  }
  std::error_code ec;
  fs::rename(tmp, stub, ec);
  if (ec) return make_error(ErrorCode::unavailable, stub.string() + ": cannot write (" + ec.message() + ")");
  return Status::success();
}

// Opens one writer per shard and checks each shard knows its place.
Result<std::vector<std::unique_ptr<Indexer>>> open_shards(const Layout& layout, const IndexerOptions& options) {
  // Xapian buffers postings in maps (one per term, keyed by document id) until its flush
  // threshold; their cost per posting grows with their size (a lookup walks the tree, and
  // beyond the CPU caches every step is a miss). Writers work inside a transaction
  // (Indexer), so a flush only moves postings into the tables and commits stay on our
  // schedule: flushing often is cheaper than large buffers. A value set by the user wins.
  (void)options;
  if (std::getenv("XAPIAN_FLUSH_THRESHOLD") == nullptr)
    ::setenv("XAPIAN_FLUSH_THRESHOLD", std::to_string(kFlushThreshold).c_str(), 0);
  std::vector<std::unique_ptr<Indexer>> shards;
  const auto count = static_cast<std::uint32_t>(layout.shard_paths.size());
  if (count > 1) {
    std::error_code ec;
    fs::create_directories(layout.dir, ec);
    if (ec) return make_error(ErrorCode::unavailable, layout.dir + ": cannot create (" + ec.message() + ")");
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    auto indexer = Indexer::open(layout.shard_paths[i], options);
    if (!indexer.ok()) return indexer.error();
    Xapian::WritableDatabase& db = (*indexer)->database();
    const std::string recorded = db.get_metadata(kMetaShards);
    if (!recorded.empty() && (recorded != std::to_string(count) || db.get_metadata(kMetaShard) != std::to_string(i)))
      return make_error(ErrorCode::corrupt, layout.shard_paths[i] + ": is shard " + db.get_metadata(kMetaShard) +
                                                " of " + recorded + ", but the index lists it as shard " +
                                                std::to_string(i) + " of " + std::to_string(count));
    db.set_metadata(kMetaShards, std::to_string(count));
    db.set_metadata(kMetaShard, std::to_string(i));
    shards.push_back(std::move(indexer.value()));
  }
  return shards;
}

class Pipeline {
 public:
  Pipeline(const std::vector<Indexer*>& shards, const BulkOptions& options)
      : shards_(shards), options_(options) {
    threads_ = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    // Snapshot of what each shard holds, for workers to skip unchanged records without
    // building them. Writers re-check against the live state before trusting it.
    snapshots_.resize(shards.size());
    for (std::size_t i = 0; i < shards.size(); ++i) snapshots_[i] = shards[i]->known_hashes();
  }

  Result<BulkSummary> run(const std::vector<std::string>& inputs, corpus::Format format) {
    BulkSummary summary;
    summary.shards = static_cast<std::uint32_t>(shards_.size());
    summary.threads = threads_;
    summary.dry_run = options_.dry_run;
    for (const auto& path : inputs) {
      summary.inputs.push_back(InputCounts{path, "", 0, 0, ""});
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0) bytes_total_ += static_cast<std::uint64_t>(st.st_size);
    }
    inputs_ = &summary.inputs;
    if (!options_.rejects_path.empty()) {
      rejects_.open(options_.rejects_path, std::ios::app | std::ios::binary);
      if (!rejects_)
        return make_error(ErrorCode::unavailable, options_.rejects_path + ": cannot open for writing", "--rejects");
    }
    start_ = std::chrono::steady_clock::now();

    Queue<Batch> batches(threads_ * 4);
    Queue<ParsedBatch> parsed(threads_ * 4);
    std::vector<std::unique_ptr<Queue<ShardWork>>> shard_queues;
    for (std::size_t i = 0; i < shards_.size(); ++i) shard_queues.push_back(std::make_unique<Queue<ShardWork>>(4096));
    // On failure every queue closes, so no thread stays blocked on a full or empty queue.
    close_all_ = [&] {
      batches.close();
      parsed.close();
      for (auto& q : shard_queues) q->close();
    };

    // An unexpected exception on a thread (out of memory, a library bug) stops the run with an
    // internal error instead of terminating the process.
    auto guarded = [this](auto&& body) {
      try {
        body();
      } catch (const std::exception& e) {
        fail(make_error(ErrorCode::internal, std::string("indexing failed: ") + e.what()));
      } catch (...) {
        fail(make_error(ErrorCode::internal, "indexing failed: unknown exception"));
      }
    };
    std::thread framer([&] {
      guarded([&] { frame(inputs, format, batches); });
      batches.close();
    });
    std::vector<std::thread> workers;
    std::atomic<unsigned> workers_left{threads_};
    for (unsigned i = 0; i < threads_; ++i) {
      workers.emplace_back([&] {
        guarded([&] { work(batches, parsed); });
        if (--workers_left == 0) parsed.close();
      });
    }
    std::vector<std::thread> writers;
    for (std::size_t i = 0; i < shards_.size(); ++i)
      writers.emplace_back([&, i] { guarded([&] { write(i, *shard_queues[i]); }); });
    std::thread progress;
    std::atomic<bool> finished{false};
    std::mutex progress_mutex;
    std::condition_variable progress_cv;
    if (options_.on_progress) {
      progress = std::thread([&] {
        std::unique_lock lock(progress_mutex);
        while (!progress_cv.wait_for(lock, std::chrono::seconds(1), [&] { return finished.load(); }))
          options_.on_progress(snapshot(false));
      });
    }

    guarded([&] { route(parsed, shard_queues); });  // on this thread, until the workers are done
    for (auto& q : shard_queues) q->close();
    framer.join();
    for (auto& w : workers) w.join();
    for (auto& w : writers) w.join();
    {
      std::lock_guard lock(progress_mutex);
      finished = true;
    }
    progress_cv.notify_all();
    if (progress.joinable()) progress.join();

    if (!options_.dry_run) {
      for (Indexer* shard : shards_) {
        Status committed = shard->commit();
        if (!committed.ok() && !failure_) failure_ = committed.error();
      }
    }
    close_all_ = nullptr;  // the queues die with this frame
    if (failure_) return *failure_;
    summary.counts = snapshot(true);
    summary.interrupted = interrupted_;
    if (options_.on_progress) options_.on_progress(summary.counts);
    return summary;
  }

 private:
  Progress snapshot(bool done) const {
    Progress p;
    p.read = counters_.read;
    p.added = counters_.added;
    p.replaced = counters_.replaced;
    p.unchanged = counters_.unchanged;
    p.superseded = counters_.superseded;
    p.rejected = counters_.rejected;
    p.indexed = p.added + p.replaced + p.unchanged + p.superseded;
    p.deleted = counters_.deleted;
    p.passages = counters_.passages;
    p.bytes_read = counters_.bytes_read;
    p.bytes_total = bytes_total_;
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    p.done = done;
    return p;
  }

  void fail(Error error) {
    {
      std::lock_guard lock(failure_mutex_);
      if (!failure_) failure_ = std::move(error);
      stop_ = true;
    }
    if (close_all_) close_all_();
  }

  // Frames every input in order into batches. Runs on one thread.
  void frame(const std::vector<std::string>& inputs, corpus::Format format, Queue<Batch>& batches) {
    std::uint64_t seq = 0;
    std::uint64_t bytes_done = 0;
    auto send = [&](Batch& batch) {
      batch.seq = seq++;
      return batches.push(std::move(batch));
    };
    auto interrupted = [this] {
      if (!interrupted_ && options_.stop_requested && options_.stop_requested()) interrupted_ = true;
      return interrupted_.load();
    };
    for (std::size_t i = 0; i < inputs.size() && !stop_ && !interrupted(); ++i) {
      corpus::Format chosen = format;
      auto opened = corpus::open_reader(inputs[i], format, &chosen);
      if (opened.ok()) (*inputs_)[i].format = std::string(corpus::to_string(chosen));
      if (!opened.ok()) {
        // A batch without a reader: the router reports it in order with the records around it.
        Batch batch;
        batch.input = i;
        corpus::RawItem failure;
        failure.location = inputs[i];
        failure.error = opened.error().message;
        batch.raws.push_back(std::move(failure));
        if (!send(batch)) break;
        continue;
      }
      std::shared_ptr<corpus::RecordReader> reader(std::move(opened.value()));
      Batch batch;
      corpus::RawItem raw;
      bool open = true;
      while (open && !stop_ && !interrupted() && reader->next_raw(raw)) {
        batch.raws.push_back(std::move(raw));
        raw = corpus::RawItem();
        if (batch.raws.size() >= kBatchItems) {
          counters_.bytes_read = bytes_done + reader->input().file_bytes_read();
          batch.input = i;
          batch.reader = reader;
          open = send(batch);
          batch = Batch();
        }
      }
      if (open && !batch.raws.empty()) {
        batch.input = i;
        batch.reader = reader;
        open = send(batch);
      }
      if (!open) break;
      bytes_done += reader->input().file_size();
      counters_.bytes_read = bytes_done;
    }
    batches.close();
  }

  // Parses and analyses batches. Runs on every worker thread.
  void work(Queue<Batch>& batches, Queue<ParsedBatch>& parsed) {
    DocumentBuilder builder(options_.indexer.passages);
    Batch batch;
    std::vector<corpus::ReadItem> items;
    while (batches.pop(batch)) {
      ParsedBatch out;
      out.seq = batch.seq;
      items.clear();
      if (!batch.reader) {  // the input could not be opened
        Outcome o;
        o.kind = Kind::rejected;
        o.input = batch.input;
        o.location = batch.raws[0].location;
        o.message = batch.raws[0].error;
        o.input_failed = true;
        out.outcomes.push_back(std::move(o));
      } else {
        for (const auto& raw : batch.raws) batch.reader->parse(raw, items);
      }
      for (auto& item : items) out.outcomes.push_back(prepare(builder, batch.input, std::move(item)));
      batch = Batch();  // drop the reader reference before waiting
      if (!parsed.push(std::move(out))) return;
    }
  }

  Outcome prepare(DocumentBuilder& builder, std::size_t input, corpus::ReadItem item) {
    Outcome o;
    o.input = input;
    o.location = std::move(item.location);
    if (!item.deleted_ids.empty()) {
      o.kind = Kind::deletion;
      o.deleted_ids = std::move(item.deleted_ids);
      return o;
    }
    if (!item.record) {
      o.kind = Kind::rejected;
      o.message = item.error.message;
      o.raw = corpus::truncate_raw(item.raw);
      return o;
    }
    corpus::Record& record = *item.record;
    o.record_id = record.id;
    if (options_.dry_run) {
      // Validate and split as indexing would, write nothing.
      Status valid = corpus::validate(record);
      if (valid.ok() && corpus::split_into_passages(record, options_.indexer.passages).empty())
        valid = make_error(ErrorCode::invalid_argument, "field 'text': the record has no text", "text");
      if (!valid.ok()) {
        o.kind = Kind::rejected;
        o.message = valid.error().message;
        o.raw = corpus::truncate_raw(corpus::record_to_json(record).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        return o;
      }
      o.kind = Kind::record;
      return o;
    }
    o.hash = content_hash(record, options_.indexer.passages);
    const auto& snapshot = snapshots_[shard_of(record.id, static_cast<std::uint32_t>(shards_.size()))];
    if (auto it = snapshot.find(record.id); it != snapshot.end() && it->second == o.hash) {
      o.kind = Kind::unchanged_candidate;
      o.record = std::move(record);
      return o;
    }
    auto prepared = builder.build(record, o.hash);
    if (!prepared.ok()) {
      o.kind = Kind::rejected;
      o.message = prepared.error().message;
      o.raw = corpus::truncate_raw(corpus::record_to_json(record).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return o;
    }
    o.kind = Kind::record;
    o.prepared = std::move(prepared.value());
    return o;
  }

  // Restores input order and hands work to the shard writers. Runs on the calling thread.
  void route(Queue<ParsedBatch>& parsed, std::vector<std::unique_ptr<Queue<ShardWork>>>& shard_queues) {
    std::map<std::uint64_t, ParsedBatch> waiting;
    std::uint64_t next = 0;
    ParsedBatch batch;
    const auto count = static_cast<std::uint32_t>(shards_.size());
    while (parsed.pop(batch)) {
      waiting.emplace(batch.seq, std::move(batch));
      for (auto it = waiting.find(next); it != waiting.end(); it = waiting.find(++next)) {
        for (Outcome& o : it->second.outcomes) {
          InputCounts& input = (*inputs_)[o.input];
          if (o.input_failed) {
            input.error = o.message;
            report(o.message);
            continue;
          }
          if (o.kind == Kind::deletion) {
            for (auto& id : o.deleted_ids) {
              ShardWork work;
              work.op = ShardWork::Op::remove;
              work.id = std::move(id);
              work.location = o.location;
              if (!options_.dry_run) shard_queues[shard_of(work.id, count)]->push(std::move(work));
            }
            continue;
          }
          ++input.read;
          ++counters_.read;
          if (o.kind == Kind::rejected) {
            ++input.rejected;
            ++counters_.rejected;
            report(o.location + ": " + o.message);
            if (rejects_.is_open() && !o.raw.empty()) rejects_ << o.raw << '\n';
            continue;
          }
          if (options_.dry_run) {
            ++counters_.added;
            continue;
          }
          ShardWork work;
          work.location = o.location;
          if (o.kind == Kind::unchanged_candidate) {
            work.op = ShardWork::Op::build_and_write;
            work.record = std::move(*o.record);
            work.hash = o.hash;
          } else {
            work.op = ShardWork::Op::write;
            work.prepared = std::move(*o.prepared);
          }
          shard_queues[shard_of(o.record_id, count)]->push(std::move(work));
        }
        waiting.erase(it);
      }
    }
  }

  void report(const std::string& line) {
    if (options_.on_reject) options_.on_reject(line);
  }

  // Applies work to one shard, in input order. Runs on the shard's writer thread.
  void write(std::size_t shard_index, Queue<ShardWork>& queue) {
    Indexer& shard = *shards_[shard_index];
    std::unique_ptr<DocumentBuilder> builder;  // only for records that changed after all
    ShardWork work;
    while (queue.pop(work)) {
      if (stop_) continue;  // drain so the router never blocks
      if (work.op == ShardWork::Op::remove) {
        auto removed = shard.remove(work.id);
        if (removed.ok()) ++counters_.deleted;
        else if (removed.error().code != ErrorCode::not_found) fail(removed.error());
        continue;
      }
      if (work.op == ShardWork::Op::build_and_write) {
        if (shard.holds(work.record.id, work.hash)) {
          ++counters_.unchanged;
          continue;
        }
        // An earlier duplicate in this run changed the record: build it after all.
        if (!builder) builder = std::make_unique<DocumentBuilder>(options_.indexer.passages);
        auto prepared = builder->build(work.record, work.hash);
        if (!prepared.ok()) {  // cannot happen for a record that built before; be safe
          fail(prepared.error());
          continue;
        }
        work.prepared = std::move(prepared.value());
      }
      auto outcome = shard.write(work.prepared);
      if (!outcome.ok()) {
        fail(make_error(outcome.error().code, work.location + ": " + outcome.error().message));
        continue;
      }
      switch (outcome.value()) {
        case WriteOutcome::added: ++counters_.added; break;
        case WriteOutcome::replaced: ++counters_.replaced; break;
        case WriteOutcome::unchanged: ++counters_.unchanged; break;
        case WriteOutcome::superseded: ++counters_.superseded; break;
      }
      if (outcome.value() == WriteOutcome::added || outcome.value() == WriteOutcome::replaced)
        counters_.passages += work.prepared.passages.size();
    }
  }

  std::vector<Indexer*> shards_;
  BulkOptions options_;
  unsigned threads_ = 1;
  std::vector<std::unordered_map<std::string, std::uint64_t>> snapshots_;
  std::vector<InputCounts>* inputs_ = nullptr;
  std::ofstream rejects_;
  Counters counters_;
  std::uint64_t bytes_total_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> interrupted_{false};  // options_.stop_requested said stop; the framer stopped reading
  std::mutex failure_mutex_;
  std::optional<Error> failure_;
  std::function<void()> close_all_;
};

}  // namespace

Result<BulkSummary> index_files(const std::vector<Indexer*>& shards, const std::vector<std::string>& inputs,
                                corpus::Format format, const BulkOptions& options) {
  Pipeline pipeline(shards, options);
  return pipeline.run(inputs, format);
}

Result<BulkSummary> index_files(const Layout& layout, const std::vector<std::string>& inputs, corpus::Format format,
                                const BulkOptions& options) {
  if (options.dry_run) {
    // Nothing is written: in-memory stand-ins for the shards, so nothing is created on disk.
    std::vector<std::unique_ptr<Indexer>> scratch;
    std::vector<Indexer*> raw;
    for (std::size_t i = 0; i < layout.shard_paths.size(); ++i) {
      scratch.push_back(std::make_unique<Indexer>(Xapian::WritableDatabase(std::string(), Xapian::DB_BACKEND_INMEMORY),
                                                  options.indexer));
      raw.push_back(scratch.back().get());
    }
    return index_files(raw, inputs, format, options);
  }
  auto shards = open_shards(layout, options.indexer);
  if (!shards.ok()) return shards.error();
  // Every shard exists now: name them in the stub before writing anything, so even a run
  // killed at its first commit leaves an index that opens.
  Status stub = write_stub(layout);
  if (!stub.ok()) return stub.error();
  std::vector<Indexer*> raw;
  for (auto& s : *shards) raw.push_back(s.get());
  auto summary = index_files(raw, inputs, format, options);
  if (!summary.ok()) return summary;
  for (auto& s : *shards) {
    Status committed = s->commit();
    if (!committed.ok()) return committed.error();
  }
  return summary;
}

std::vector<Result<std::size_t>> delete_records(const Layout& layout, const std::vector<std::string>& ids,
                                               const IndexerOptions& options) {
  std::vector<Result<std::size_t>> results;
  auto shards = open_shards(layout, options);
  if (!shards.ok()) {
    for (std::size_t i = 0; i < ids.size(); ++i) results.emplace_back(shards.error());
    return results;
  }
  const auto count = static_cast<std::uint32_t>(shards->size());
  for (const auto& id : ids) results.push_back((*shards)[shard_of(id, count)]->remove(id));
  for (auto& s : *shards) {
    Status committed = s->commit();
    if (!committed.ok())
      for (auto& r : results) r = committed.error();
  }
  return results;
}

// A compacted index is read far more than it is written, and glass reads one block per system
// call: 32 KB blocks instead of Xapian's default 8 KB cut a search's block reads by 44% at
// 100,000 generated passages (posting lists and value chunks span fewer blocks) and its CPU
// time by about 5% (medsearch-query-bench, 232 questions, everything on, 4 interleaved rounds).
// The shards' writers keep 8 KB: a smaller block is cheaper to rewrite.
constexpr unsigned kCompactedBlockSize = 32768;

Status compact(const Layout& layout) {
  const fs::path dir(layout.dir);
  const fs::path out = dir.string() + ".compact-tmp";
  const fs::path old = dir.string() + ".compact-old";
  std::error_code ec;
  fs::remove_all(out, ec);
  fs::remove_all(old, ec);
  try {
    Xapian::Database source(layout.dir);
    source.compact(out.string(), Xapian::Compactor::STANDARD, kCompactedBlockSize);
    {
      Xapian::WritableDatabase merged(out.string(), Xapian::DB_OPEN);
      merged.set_metadata(kMetaShards, "1");
      merged.set_metadata(kMetaShard, "0");
      merged.commit();
    }
  } catch (const Xapian::Error& e) {
    fs::remove_all(out, ec);
    return make_error(ErrorCode::unavailable, "compacting " + layout.dir + ": " + e.get_description());
  }
  // Swap in the merged database: readers see the old index or the new one, never a mixture.
  fs::rename(dir, old, ec);
  if (ec) return make_error(ErrorCode::unavailable, layout.dir + ": cannot move aside (" + ec.message() + ")");
  fs::rename(out, dir, ec);
  if (ec) {
    fs::rename(old, dir, ec);
    return make_error(ErrorCode::unavailable, layout.dir + ": cannot move the compacted index into place");
  }
  fs::remove_all(old, ec);
  return Status::success();
}

std::string summary_json(const BulkSummary& s) {
  nlohmann::json inputs = nlohmann::json::array();
  for (const auto& input : s.inputs) {
    nlohmann::json j = {{"path", input.path}, {"format", input.format}, {"read", input.read}, {"rejected", input.rejected}};
    if (!input.error.empty()) j["error"] = input.error;
    inputs.push_back(std::move(j));
  }
  const Progress& c = s.counts;
  nlohmann::json j = {{"read", c.read},
                      {"indexed", c.indexed},
                      {"rejected", c.rejected},
                      {"added", c.added},
                      {"replaced", c.replaced},
                      {"unchanged", c.unchanged},
                      {"superseded", c.superseded},
                      {"deleted", c.deleted},
                      {"passages", c.passages},
                      {"bytes", c.bytes_read},
                      {"seconds", c.seconds},
                      {"records_per_second", c.seconds > 0 ? static_cast<double>(c.read) / c.seconds : 0.0},
                      {"shards", s.shards},
                      {"threads", s.threads},
                      {"dry_run", s.dry_run},
                      {"interrupted", s.interrupted},
                      {"inputs", inputs}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::uint64_t> index_revision(const std::string& dir) {
  auto layout = open_layout(dir, std::nullopt);
  if (!layout.ok()) return layout.error();
  std::uint64_t revision = 0;
  try {
    for (const auto& path : layout->shard_paths) revision += Xapian::Database(path).get_revision();
  } catch (const Xapian::Error& e) {
    Error err = corpus::error_from_xapian(e, dir);
    if (err.code == ErrorCode::internal) err.code = ErrorCode::unavailable;
    return err;
  }
  return revision;
}

Status export_lexicon(const std::string& dir, const std::string& out) {
  try {
    const Xapian::Database index(dir);
    Xapian::WritableDatabase lexicon(out, Xapian::DB_CREATE_OR_OVERWRITE);
    // The shards' dictionaries merged as a search over all of them sees them: a word's
    // frequency is the sum of its shards' frequencies.
    for (auto it = index.spellings_begin(); it != index.spellings_end(); ++it)
      lexicon.add_spelling(*it, it.get_termfreq());
    for (auto key = index.synonym_keys_begin(); key != index.synonym_keys_end(); ++key)
      for (auto syn = index.synonyms_begin(*key); syn != index.synonyms_end(*key); ++syn) lexicon.add_synonym(*key, *syn);
    for (auto key = index.metadata_keys_begin(); key != index.metadata_keys_end(); ++key)
      lexicon.set_metadata(*key, index.get_metadata(*key));
    lexicon.commit();
    return Status::success();
  } catch (const Xapian::Error& e) {
    Error err = corpus::error_from_xapian(e, "export lexicon of " + dir + " to " + out);
    if (err.code == ErrorCode::internal) err.code = ErrorCode::unavailable;
    return err;
  }
}

}  // namespace medsearch::indexer
