// The index's semantic model, shared by index and query side: latent semantic analysis (LSA),
// a truncated singular value decomposition of the passages' term-weight matrix, which places
// words that occur in the same passages near each other ("sea vegetables" near seaweed, kelp,
// iodine). A passage and a question are each a point in that space, the sum of their words'
// vectors; their cosine is a rerank feature (searcher/rerank.h) that lexical features lack:
// similarity without shared words. No neural model: the decomposition is linear algebra over
// the index's own term statistics (indexer/semantic.h trains it).
//
// Stored in the index (corpus/SCHEMA.md, "Semantic model"):
//   metadata kMetaSemantic            the model's header (JSON: dims, passages it was trained on, ...)
//   metadata kMetaSemanticTerm + term the term's vector: idf x its row of the right singular vectors
//   value slot kSlotSemantic          each passage's unit vector (encode_unit)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <xapian.h>

namespace medsearch::corpus::semantic {

// The header of a trained model, as kept in kMetaSemantic.
struct ModelInfo {
  unsigned dims = 0;                // length of every vector
  Xapian::doccount trained_on = 0;  // passages the decomposition was computed from
  Xapian::doccount passages = 0;    // passages in the index when it was trained (retrain when doubled)
  std::size_t terms = 0;            // terms with a vector
  std::uint64_t seed = 0;           // of the random projection (the model is deterministic given it)
  bool complete = true;             // every passage has its vector in this model (false while they are written)
  std::string to_json() const;
  static std::optional<ModelInfo> from_json(std::string_view text);
};

// The model the database holds, if any (its header parses and names at least one dimension).
std::optional<ModelInfo> read_info(const Xapian::Database& db);

// Longest metadata key a term vector is stored under (Xapian refuses longer keys); a term whose
// key would be longer has no vector.
inline constexpr std::size_t kMaxMetadataKey = 200;

// A term the model covers: a stemmed word, "Z" + stem, where a stem starts with a lowercase
// letter or a digit (prefixed terms such as ZS..., ZXH... have capitals after the Z).
bool is_body_term(std::string_view term);

// The weight of a term that occurs `wdf` times in a passage or question: 1 + ln(wdf) (the idf
// is in the term's vector).
double term_weight(Xapian::termcount wdf);

// A term vector as stored: a float scale (4 bytes, little-endian IEEE 754) then one signed byte
// per dimension (value = byte * scale). Decoding fails (false) on a malformed string.
std::string encode_term_vector(const std::vector<float>& v);
bool decode_term_vector(std::string_view bytes, std::vector<float>& out);

// A passage's or question's vector as stored: one signed byte per dimension, scaled so that
// the largest component is 127 (only the direction counts). Empty for a zero vector.
std::string encode_unit(const std::vector<float>& v);
// The cosine of two encode_unit vectors: 0 when either is empty or their lengths differ.
double cosine(std::string_view a, std::string_view b);

// Sums term vectors read from one database's metadata (each read once, then remembered) into
// a passage's or a question's vector. Not thread-safe; one per thread or per search.
class Projector {
 public:
  Projector(const Xapian::Database& db, unsigned dims) : db_(db), dims_(dims) {}
  // The encode_unit vector of the weighted terms (term, weight); empty when none has a vector.
  std::string project(const std::vector<std::pair<std::string, double>>& weighted);
  unsigned dims() const { return dims_; }

 private:
  const std::vector<float>* vector_of(const std::string& term);
  const Xapian::Database& db_;
  unsigned dims_;
  std::unordered_map<std::string, std::vector<float>> cache_;  // empty vector: none stored
};

}  // namespace medsearch::corpus::semantic
