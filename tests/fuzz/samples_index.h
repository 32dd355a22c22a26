// An on-disk index of the demonstration corpus (corpus/samples) for the fuzz targets that search
// it (query_fuzz.cc, server_fuzz.cc). Setup failures abort: a fuzz target has no other way to fail.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "corpus/reader.h"
#include "indexer/indexer.h"

namespace medsearch::fuzz {

// Indexes corpus/samples into DIR/db of a fresh temporary folder DIR and returns that index path.
inline std::string index_samples() {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "medsearch-fuzz-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  const std::string db = tmpl + "/db";
  auto writer = indexer::Indexer::open(db);
  if (!writer.ok()) std::abort();
  for (const auto& entry : fs::directory_iterator(fs::path(MEDSEARCH_SOURCE_DIR) / "corpus" / "samples")) {
    if (entry.path().extension() != ".jsonl") continue;
    auto reader = corpus::open_reader(entry.path().string(), corpus::Format::medsearch);
    if (!reader.ok()) std::abort();
    corpus::ReadItem item;
    while ((*reader)->next(item))
      if (item.record && !(*writer)->add(*item.record).ok()) std::abort();
  }
  if (!(*writer)->commit().ok()) std::abort();
  return db;
}

}  // namespace medsearch::fuzz
