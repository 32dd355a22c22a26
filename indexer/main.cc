// medsearch-index: reads records from files into an index (one database or several shards),
// deletes records, or compacts shards into one database.
// Exit status: 0 all indexed, 1 some records rejected, 2 usage or I/O errors, 130 interrupted
// (SIGINT or SIGTERM: what was read is committed; the same command again goes on).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "indexer/pipeline.h"
#include "indexer/semantic.h"

namespace mi = medsearch::indexer;
namespace mc = medsearch::corpus;

namespace {

std::string human_rate(double value) {
  char buf[32];
  if (value >= 1e6) std::snprintf(buf, sizeof buf, "%.1fM", value / 1e6);
  else if (value >= 1e4) std::snprintf(buf, sizeof buf, "%.1fk", value / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", value);
  return buf;
}

std::string clock_time(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

// A progress bar on a terminal (redrawn in place), or a plain line every 10 s otherwise.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool tty) : tty_(tty) {}

  void operator()(const mi::Progress& p) {
    std::lock_guard lock(mutex_);
    const double rate = p.seconds > 0 ? static_cast<double>(p.read) / p.seconds : 0;
    const double mbps = p.seconds > 0 ? static_cast<double>(p.bytes_read) / 1e6 / p.seconds : 0;
    const double fraction = p.bytes_total > 0 ? std::min(1.0, static_cast<double>(p.bytes_read) / static_cast<double>(p.bytes_total)) : 0;
    const double eta = fraction > 0.001 ? p.seconds * (1 - fraction) / fraction : NAN;
    char line[256];
    if (tty_) {
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(fraction * kWidth);
      std::string bar(static_cast<std::size_t>(filled), '=');
      if (filled < kWidth) bar += '>';
      bar.resize(kWidth, ' ');
      std::snprintf(line, sizeof line, "\r[%s] %3.0f%% %s records  %s/s  %.1f MB/s  ETA %s  rejected %llu ",
                    bar.c_str(), fraction * 100, human_rate(static_cast<double>(p.read)).c_str(), human_rate(rate).c_str(),
                    mbps, p.done ? "0:00" : clock_time(eta).c_str(), static_cast<unsigned long long>(p.rejected));
      std::fputs(line, stderr);
      if (p.done) std::fputc('\n', stderr);
      std::fflush(stderr);
      return;
    }
    if (!p.done && p.seconds < next_line_at_) return;
    next_line_at_ = p.seconds + 10;
    if (p.done) return;  // the summary line follows
    std::snprintf(line, sizeof line, "progress: %.0f%% read %llu, rejected %llu, %s records/s, %.1f MB/s, ETA %s\n",
                  fraction * 100, static_cast<unsigned long long>(p.read),
                  static_cast<unsigned long long>(p.rejected), human_rate(rate).c_str(), mbps, clock_time(eta).c_str());
    std::fputs(line, stderr);
  }

  // Rejected-record lines must not be drawn over the bar.
  void print_line(const std::string& text) {
    std::lock_guard lock(mutex_);
    if (tty_) std::fputs("\r\x1b[K", stderr);
    std::fputs(text.c_str(), stderr);
    std::fputc('\n', stderr);
  }

 private:
  bool tty_;
  double next_line_at_ = 10;
  std::mutex mutex_;
};

// Set by SIGINT or SIGTERM (a lock-free atomic store is safe in a signal handler). The first
// signal asks for a clean stop: reading stops, the records read are indexed and committed and
// the summary printed. The handler is reset by the first signal, so a second one ends the
// process at once (which the index survives as it survives SIGKILL).
std::atomic<bool> g_stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void request_stop(int) { g_stop_requested.store(true); }

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: a read interrupted by the signal goes on instead of failing the input.
  action.sa_flags = SA_RESETHAND | SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"medsearch-index: add guideline, FDA label and research records to a medsearch index"};
  std::string db;
  std::string format_name = "auto";
  std::vector<std::string> inputs;
  std::vector<std::string> deletes;
  std::uint32_t shards = 0;
  unsigned threads = 0;
  std::uint32_t commit_every = 10000;
  std::size_t passage_bytes = 1200;
  std::string rejects_path;
  std::string progress_mode = "auto";
  bool quiet = false;
  bool dry_run = false;
  bool json_summary = false;
  bool do_compact = false;
  std::string lexicon_out;
  std::string semantic_mode = "auto";
  unsigned semantic_dims = 300;
  app.add_option("--db", db, "index folder (created if missing)")->required();
  app.add_option("--format", format_name, "input format (auto detects per file)")->check(CLI::IsMember(mc::format_names()));
  app.add_option("--shards", shards,
                 "shards of a new index (default: one per core); an existing index keeps its count")
      ->check(CLI::Range(1u, 256u));
  app.add_option("--threads", threads, "parse/analysis threads (default: one per core)")->check(CLI::Range(1u, 256u));
  app.add_option("--delete", deletes, "record ids to delete (with all their passages)");
  app.add_option("--commit-every", commit_every, "commit each shard after this many records")
      ->check(CLI::Range(1u, 10000000u));
  app.add_option("--passage-bytes", passage_bytes, "longest passage in bytes before text is split into sentence windows")
      ->check(CLI::Range(200, 100000));
  app.add_option("--rejects", rejects_path, "append the raw text of every rejected record to this file");
  app.add_flag("--dry-run", dry_run, "read and validate every record, write nothing");
  app.add_flag("--json-summary", json_summary, "print the run's counts as JSON on stdout");
  app.add_flag("--compact", do_compact, "after indexing, merge the shards into one database (Xapian's compactor)");
  app.add_option("--export-lexicon", lexicon_out,
                 "after indexing, write the index's spelling and synonym tables to a small database here, for a "
                 "coordinator that searches remote shards (medsearch-server --lexicon)");
  app.add_option("--semantic", semantic_mode,
                 "after indexing, the semantic model (a rerank feature): auto trains one once the index holds 2,000 "
                 "passages and again when it has doubled, and gives new passages their vectors; rebuild trains anew; off")
      ->check(CLI::IsMember({"auto", "off", "rebuild"}));
  app.add_option("--semantic-dims", semantic_dims, "dimensions of a newly trained semantic model")
      ->check(CLI::Range(8u, 1024u));
  app.add_option("--progress", progress_mode, "auto (a bar on a terminal, lines otherwise), bar, lines, none")
      ->check(CLI::IsMember({"auto", "bar", "lines", "none"}));
  app.add_flag("-q,--quiet", quiet, "do not print rejected records or progress");
  app.add_option("inputs", inputs, "input files, plain or .gz");
  app.set_version_flag("--version", std::string("medsearch-index ") + MEDSEARCH_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  const bool rebuild_semantic = semantic_mode == "rebuild";
  if (inputs.empty() && deletes.empty() && !do_compact && lexicon_out.empty() && !rebuild_semantic) {
    std::cerr << "medsearch-index: nothing to do: give input files, --delete ID, --compact, --export-lexicon or "
                 "--semantic rebuild\n";
    return 2;
  }

  if ((!deletes.empty() || do_compact || !lexicon_out.empty() || rebuild_semantic) && inputs.empty() &&
      !mi::index_exists(db)) {
    std::cerr << "medsearch-index: " << db << ": no index there to "
              << (do_compact            ? "compact"
                  : !deletes.empty()    ? "delete from"
                  : !lexicon_out.empty() ? "export a lexicon from"
                                        : "train a semantic model for")
              << "\n";
    return 2;
  }
  // A new index gets one shard per core unless told otherwise; an existing one keeps its count.
  std::optional<std::uint32_t> requested;
  if (shards > 0) requested = shards;
  else if (!mi::index_exists(db)) requested = std::min(std::max(1u, std::thread::hardware_concurrency()), 256u);
  auto layout = mi::open_layout(db, requested);
  if (!layout.ok()) {
    std::cerr << "medsearch-index: " << layout.error().message << "\n";
    return 2;
  }

  mi::IndexerOptions indexer_options;
  indexer_options.commit_every = commit_every;
  indexer_options.passages.max_bytes = passage_bytes;

  int status = 0;
  if (!deletes.empty()) {
    auto results = mi::delete_records(*layout, deletes, indexer_options);
    for (std::size_t i = 0; i < deletes.size(); ++i) {
      if (results[i].ok()) {
        std::cerr << "deleted " << deletes[i] << " (" << results[i].value() << " passages)\n";
      } else {
        std::cerr << "medsearch-index: cannot delete " << deletes[i] << ": " << results[i].error().message << "\n";
        status = std::max(status, results[i].error().code == mc::ErrorCode::not_found ? 1 : 2);
      }
    }
  }

  if (!inputs.empty()) {
    const bool tty = isatty(STDERR_FILENO) != 0;
    const bool show_progress = !quiet && progress_mode != "none";
    ProgressPrinter printer(progress_mode == "bar" || (progress_mode == "auto" && tty));
    mi::BulkOptions options;
    options.indexer = indexer_options;
    options.threads = threads;
    options.dry_run = dry_run;
    options.rejects_path = rejects_path;
    options.on_reject = [&](const std::string& line) {
      if (!quiet) printer.print_line(line);
    };
    if (show_progress) options.on_progress = [&](const mi::Progress& p) { printer(p); };
    options.stop_requested = [] { return g_stop_requested.load(); };
    install_stop_handlers();
    auto result = mi::index_files(*layout, inputs, *mc::parse_format(format_name), options);
    if (!result.ok()) {
      std::cerr << "medsearch-index: " << result.error().message << "\n";
      return 2;
    }
    const mi::BulkSummary& summary = result.value();
    const mi::Progress& c = summary.counts;
    std::cerr << "read " << c.read << ", indexed " << c.indexed << ", rejected " << c.rejected << " ("
              << c.passages << " passages)\n";
    if (c.unchanged || c.replaced || c.superseded || c.deleted)
      std::cerr << "  of the indexed: " << c.added << " new, " << c.replaced << " changed, " << c.unchanged
                << " unchanged, " << c.superseded << " superseded by a newer version; " << c.deleted << " deleted\n";
    if (dry_run) std::cerr << "  dry run: nothing was written\n";
    if (json_summary) std::cout << mi::summary_json(summary) << "\n";
    if (c.rejected > 0) status = std::max(status, 1);
    for (const auto& input : summary.inputs)
      if (!input.error.empty()) status = 2;
    if (summary.interrupted) {
      std::cerr << "medsearch-index: interrupted: the " << c.read << " records read are "
                << (dry_run ? "checked" : "indexed and committed") << "; run the same command again to go on"
                << (dry_run ? "" : " (records already indexed are skipped as unchanged)")
                << (do_compact ? "; the shards were not compacted" : "") << "\n";
      return 130;
    }
  }

  if (((!inputs.empty() && semantic_mode != "off") || rebuild_semantic) && !dry_run) {
    mi::SemanticOptions options;
    options.mode = rebuild_semantic ? mi::SemanticOptions::Mode::rebuild : mi::SemanticOptions::Mode::automatic;
    options.dims = semantic_dims;
    options.commit_every = commit_every;
    if (!quiet && progress_mode != "none") options.on_progress = [](const std::string& line) { std::cerr << line << "\n"; };
    options.stop_requested = [] { return g_stop_requested.load(); };
    install_stop_handlers();
    auto current = mi::open_layout(db, std::nullopt);
    auto semantic = current.ok() ? mi::update_semantic(*current, options) : mc::Result<mi::SemanticSummary>(current.error());
    if (!semantic.ok()) {
      std::cerr << "medsearch-index: " << semantic.error().message << "\n";
      return 2;
    }
    const mi::SemanticSummary& s = semantic.value();
    if (s.interrupted) {
      std::cerr << "medsearch-index: interrupted while writing semantic vectors (" << s.vectors_written
                << " written and committed); run the same command again to go on\n";
      return 130;
    }
    if (s.action == "skipped" || s.action == "none") {
      if (!quiet) std::cerr << "semantic model: none (" << s.reason << ")\n";
    } else {
      std::cerr << "semantic model: " << s.action << " (" << s.reason << "), " << s.info.dims << " dimensions; "
                << s.vectors_written << " passage vectors written\n";
    }
  }

  if (do_compact && !dry_run) {
    auto current = mi::open_layout(db, std::nullopt);
    auto compacted = current.ok() ? mi::compact(*current) : mc::Status(current.error());
    if (!compacted.ok()) {
      std::cerr << "medsearch-index: " << compacted.error().message << "\n";
      return 2;
    }
    std::cerr << "compacted " << current->shard_paths.size() << " shard(s) into one database\n";
  }
  if (!lexicon_out.empty() && !dry_run) {
    auto exported = mi::export_lexicon(db, lexicon_out);
    if (!exported.ok()) {
      std::cerr << "medsearch-index: " << exported.error().message << "\n";
      return 2;
    }
    if (!quiet) std::cerr << "lexicon (spellings, synonyms, metadata) written to " << lexicon_out << "\n";
  }
  return status;
}
