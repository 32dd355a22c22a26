// Training the index's semantic model (corpus/semantic.h) and giving every passage its vector.
//
// After an indexing run, medsearch-index calls update_semantic() (--semantic, default auto):
//   - an index without a model, once it holds min_passages passages, gets one: a truncated SVD
//     (randomised, Halko-Martinsson-Tropp, with Eigen) of the tf-idf matrix of up to max_train
//     passages, evenly spaced by document id, over their stemmed words (Z terms);
//   - an index that has at least doubled since its model was trained gets a new one;
//   - otherwise only the passages without a vector (those written since) get one, folded into
//     the existing model.
// Every shard of the index holds the same model, so a search over all of them (or any
// compacted merge) compares vectors of one space. Deterministic: the same passages, options
// and seed give the same model.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "corpus/result.h"
#include "corpus/semantic.h"
#include "indexer/pipeline.h"

namespace medsearch::indexer {

struct SemanticOptions {
  enum class Mode { off, automatic, rebuild };
  Mode mode = Mode::automatic;
  unsigned dims = 300;                    // dimensions of the model
  Xapian::doccount min_passages = 2000;   // automatic: no model for a smaller index
  Xapian::doccount max_train = 200000;    // the decomposition's passages at most
  unsigned min_df = 2;                    // a term needs this many training passages for a vector
  unsigned power_iterations = 2;          // of the randomised SVD (more: closer to the exact one)
  std::uint64_t seed = 1;                 // of the random projection
  std::uint32_t commit_every = 10000;     // passages between commits in the vector pass
  std::function<void(const std::string&)> on_progress;  // one line at each step
  std::function<bool()> stop_requested;                 // checked between passages
};

struct SemanticSummary {
  std::string action;  // "none", "trained", "retrained", "updated" or "skipped"
  std::string reason;  // why, in words
  corpus::semantic::ModelInfo info;
  Xapian::doccount vectors_written = 0;
  double train_seconds = 0;
  double vector_seconds = 0;
  bool interrupted = false;  // stop_requested: what was written is committed; run again to go on
};

struct SemanticModel {
  corpus::semantic::ModelInfo info;
  std::unordered_map<std::string, std::vector<float>> vectors;  // term -> idf x its row of V
};

// The model of the passages of `db`; invalid_argument when they are too few or too alike to
// give `options.dims` dimensions.
corpus::Result<SemanticModel> train_semantic(const Xapian::Database& db, const SemanticOptions& options);

// The vector of a passage given its term list (Z terms with wdf), in `model`'s space;
// empty when none of its terms has a vector.
std::string passage_vector(const Xapian::Document& doc, const std::unordered_map<std::string, std::vector<float>>& vectors,
                           unsigned dims);

// What medsearch-index runs after indexing (see the top of this file). Errors: unavailable
// when a shard cannot be opened or written.
corpus::Result<SemanticSummary> update_semantic(const Layout& layout, const SemanticOptions& options);

}  // namespace medsearch::indexer
