// libFuzzer target for the query path: the input is a question (and a few option bits) run
// through build_query and Searcher::search / context / suggest over a small on-disk index of
// the demonstration corpus (corpus/samples), built once per process.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "corpus/analysis.h"
#include "searcher/context.h"
#include "searcher/searcher.h"
#include "searcher/snippet.h"
#include "tests/fuzz/samples_index.h"

namespace {

namespace fs = std::filesystem;
using namespace medsearch;

std::unique_ptr<searcher::Searcher> open_samples() {
  const std::string db = fuzz::index_samples();
  auto opened = searcher::Searcher::open(db);
  if (!opened.ok()) std::abort();
  // The files stay open; the folder goes when the process ends.
  std::error_code ec;
  fs::remove_all(fs::path(db).parent_path(), ec);
  return std::move(*opened);
}

searcher::Searcher& samples() {
  static std::unique_ptr<searcher::Searcher> instance = open_samples();
  return *instance;
}

}  // namespace

// Builds the index before the first input, outside the per-input timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  samples();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  searcher::Searcher* searcher = &samples();
  if (size < 1) return 0;
  const std::uint8_t bits = data[0];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);

  switch (bits & 3) {
    case 0:
    case 1: {
      searcher::SearchRequest request;
      request.query = text;
      request.facets = bits & 4;
      request.intent = bits & 8;
      request.rerank = bits & 16;
      request.per_record = (bits & 32) ? 0 : 1;
      request.limit = (bits & 64) ? 100 : 10;
      request.snippet_bytes = (bits & 128) ? 0 : 300;
      if (bits & 1) request.sources = {corpus::Source::guideline, corpus::Source::research};
      (void)searcher->search(request);
      break;
    }
    case 2: {
      searcher::ContextRequest request;
      request.question = text;
      (void)searcher->context(request);
      break;
    }
    case 3:
      (void)searcher->suggest(text, 10);
      // The input as a passage for the snippet generator (stored passages are valid UTF-8):
      // what it returns must be valid UTF-8 too, whatever the budget.
      if (corpus::is_valid_utf8(text)) {
        searcher::Snippeter snippets({{"Zbeta", 2.0}, {"Zriluzol", 1.0}, {"Zals", 1.5}, {"Zdie", 1.0}},
                                     Xapian::Stem(corpus::kStemLanguage));
        if (!corpus::is_valid_utf8(snippets(text, 1 + (bits >> 2) * 8))) std::abort();
      }
      break;
  }
  return 0;
}
