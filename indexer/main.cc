// medsearch-index: reads records from files and adds them to an index, or deletes records.
// Exit status: 0 all indexed, 1 some records rejected, 2 usage or I/O errors.
#include <CLI/CLI.hpp>

#include <iostream>

#include "indexer/indexer.h"

namespace mi = medsearch::indexer;
namespace mc = medsearch::corpus;

int main(int argc, char** argv) {
  CLI::App app{"medsearch-index: add guideline, FDA label and research records to a medsearch index"};
  std::string db;
  std::string format_name = "auto";
  std::vector<std::string> inputs;
  std::vector<std::string> deletes;
  std::uint32_t commit_every = 10000;
  std::size_t passage_bytes = 1200;
  bool quiet = false;
  app.add_option("--db", db, "index folder (created if missing)")->required();
  app.add_option("--format", format_name, "input format: auto, medsearch (native JSONL), beir")
      ->check(CLI::IsMember({"auto", "medsearch", "beir"}));
  app.add_option("--delete", deletes, "record ids to delete (with all their passages)");
  app.add_option("--commit-every", commit_every, "commit after this many records")->check(CLI::Range(1u, 10000000u));
  app.add_option("--passage-bytes", passage_bytes, "longest passage in bytes before text is split into sentence windows")
      ->check(CLI::Range(200, 100000));
  app.add_flag("-q,--quiet", quiet, "do not print rejected records");
  app.add_option("inputs", inputs, "input files (JSONL)");
  app.set_version_flag("--version", std::string("medsearch-index ") + MEDSEARCH_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (inputs.empty() && deletes.empty()) {
    std::cerr << "medsearch-index: nothing to do: give input files or --delete ID\n";
    return 2;
  }

  mi::IndexerOptions options;
  options.commit_every = commit_every;
  options.passages.max_bytes = passage_bytes;
  auto indexer = mi::Indexer::open(db, options);
  if (!indexer.ok()) {
    std::cerr << "medsearch-index: " << indexer.error().message << "\n";
    return 2;
  }

  int status = 0;
  for (const auto& id : deletes) {
    auto removed = (*indexer)->remove(id);
    if (removed.ok()) {
      std::cerr << "deleted " << id << " (" << removed.value() << " passages)\n";
    } else {
      std::cerr << "medsearch-index: cannot delete " << id << ": " << removed.error().message << "\n";
      status = std::max(status, removed.error().code == mc::ErrorCode::not_found ? 1 : 2);
    }
  }

  mi::RunResult run;
  if (!inputs.empty()) {
    auto result = mi::index_files(**indexer, inputs, *mc::parse_format(format_name),
                                  [&](const std::string& line) {
                                    if (!quiet) std::cerr << line << "\n";
                                  });
    if (!result.ok()) {
      std::cerr << "medsearch-index: " << result.error().message << "\n";
      return 2;
    }
    run = std::move(result.value());
    std::cerr << "read " << run.counts.read << ", indexed " << run.counts.indexed << ", rejected "
              << run.counts.rejected << " (" << run.counts.passages << " passages)\n";
    if (run.counts.rejected > 0) status = std::max(status, 1);
    if (!run.input_errors.empty()) status = 2;
  }
  auto committed = (*indexer)->commit();
  if (!committed.ok()) {
    std::cerr << "medsearch-index: " << committed.error().message << "\n";
    return 2;
  }
  return status;
}
