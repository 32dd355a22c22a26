#include "indexer/semantic.h"

#include <Eigen/Dense>
#include <Eigen/Sparse>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <sstream>

#include "corpus/schema.h"

namespace medsearch::indexer {

namespace sem = corpus::semantic;
using corpus::ErrorCode;
using corpus::make_error;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// splitmix64: a small, fully specified generator, so the random projection (and with it the
// model) is the same on every platform and library version.
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The cache sizes Eigen blocks the decomposition's products for, fixed (see train_semantic):
// a current x86-64 core's first and second levels, and a shared third.
constexpr std::ptrdiff_t kBlockingL1 = 32 * 1024;
constexpr std::ptrdiff_t kBlockingL2 = 1024 * 1024;
constexpr std::ptrdiff_t kBlockingL3 = 32 * 1024 * 1024;

// An orthonormal basis of the columns of `m` (thin Q of its QR decomposition).
Eigen::MatrixXf orthonormal(const Eigen::MatrixXf& m) {
  Eigen::HouseholderQR<Eigen::MatrixXf> qr(m);
  return qr.householderQ() * Eigen::MatrixXf::Identity(m.rows(), m.cols());
}

// 12345 -> "12,345".
std::string count_text(std::uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

}  // namespace

std::string passage_vector(const Xapian::Document& doc, const std::unordered_map<std::string, std::vector<float>>& vectors,
                           unsigned dims) {
  std::vector<float> sum(dims, 0.0f);
  bool any = false;
  for (auto t = doc.termlist_begin(); t != doc.termlist_end(); ++t) {
    const std::string term = *t;
    if (!sem::is_body_term(term)) continue;
    auto found = vectors.find(term);
    if (found == vectors.end() || found->second.size() != dims) continue;
    const float w = static_cast<float>(sem::term_weight(t.get_wdf()));
    for (unsigned i = 0; i < dims; ++i) sum[i] += w * found->second[i];
    any = true;
  }
  return any ? sem::encode_unit(sum) : std::string();
}

corpus::Result<SemanticModel> train_semantic(const Xapian::Database& db, const SemanticOptions& options) {
  const Xapian::doccount total = db.get_doccount();
  const Xapian::doccount step = std::max<Xapian::doccount>(1, (total + options.max_train - 1) / std::max<Xapian::doccount>(1, options.max_train));
  // The training passages' term lists: (term id, wdf) per passage.
  std::unordered_map<std::string, std::uint32_t> ids;
  std::vector<std::string> names;
  std::vector<std::uint32_t> df;
  std::vector<std::vector<std::pair<std::uint32_t, Xapian::termcount>>> rows;
  Xapian::doccount seen = 0;
  for (auto p = db.postlist_begin(""); p != db.postlist_end(""); ++p, ++seen) {
    if (seen % step != 0) continue;
    auto& row = rows.emplace_back();
    for (auto t = db.termlist_begin(*p); t != db.termlist_end(*p); ++t) {
      const std::string term = *t;
      if (!sem::is_body_term(term) || term.size() + corpus::schema::kMetaSemanticTerm.size() > sem::kMaxMetadataKey)
        continue;
      auto [it, added] = ids.emplace(term, static_cast<std::uint32_t>(names.size()));
      if (added) {
        names.push_back(term);
        df.push_back(0);
      }
      ++df[it->second];
      row.emplace_back(it->second, t.get_wdf());
    }
  }
  const auto n = static_cast<Eigen::Index>(rows.size());
  // Terms of at least min_df passages get a column (and a vector).
  std::vector<std::int64_t> column(names.size(), -1);
  std::vector<std::uint32_t> column_term;
  for (std::uint32_t t = 0; t < names.size(); ++t) {
    if (df[t] < options.min_df) continue;
    column[t] = static_cast<std::int64_t>(column_term.size());
    column_term.push_back(t);
  }
  const auto v = static_cast<Eigen::Index>(column_term.size());
  const auto dims = static_cast<Eigen::Index>(options.dims);
  if (options.dims == 0 || n < dims + 1 || v < dims + 1)
    return make_error(ErrorCode::invalid_argument,
                      "a semantic model of " + std::to_string(options.dims) + " dimensions needs more than that many passages and words (" +
                          std::to_string(n) + " passages, " + std::to_string(v) + (v == 1 ? " word" : " words") + " in at least " +
                          std::to_string(options.min_df) + " of them)");
  std::vector<float> idf(static_cast<std::size_t>(v));
  for (Eigen::Index c = 0; c < v; ++c)
    idf[static_cast<std::size_t>(c)] =
        static_cast<float>(std::log(static_cast<double>(n) / static_cast<double>(df[column_term[static_cast<std::size_t>(c)]])));

  // X: passages x terms, (1 + ln wdf) * idf, each row of length 1.
  std::vector<Eigen::Triplet<float>> triplets;
  for (Eigen::Index r = 0; r < n; ++r) {
    auto& row = rows[static_cast<std::size_t>(r)];
    double norm = 0;
    const std::size_t first = triplets.size();
    for (const auto& [t, wdf] : row) {
      const std::int64_t c = column[t];
      if (c < 0) continue;
      const float w = static_cast<float>(sem::term_weight(wdf)) * idf[static_cast<std::size_t>(c)];
      triplets.emplace_back(static_cast<int>(r), static_cast<int>(c), w);
      norm += static_cast<double>(w) * w;
    }
    if (norm > 0)
      for (std::size_t i = first; i < triplets.size(); ++i)
        triplets[i] = Eigen::Triplet<float>(triplets[i].row(), triplets[i].col(), triplets[i].value() / static_cast<float>(std::sqrt(norm)));
    std::vector<std::pair<std::uint32_t, Xapian::termcount>>().swap(row);
  }
  Eigen::SparseMatrix<float, Eigen::RowMajor> x(n, v);
  x.setFromTriplets(triplets.begin(), triplets.end());
  std::vector<Eigen::Triplet<float>>().swap(triplets);
  const Eigen::SparseMatrix<float, Eigen::RowMajor> xt = x.transpose();

  // Eigen sizes the blocks of its dense products, and with them the order in which floats are
  // added, from the CPU's cache sizes read at run time: the same index gave another model on
  // a machine with other caches (scripts/train-rerank.sh stopped reproducing the shipped rerank
  // model when CI moved to another CPU). Fixed sizes make the model the machine's no longer.
  Eigen::setCpuCacheSizes(kBlockingL1, kBlockingL2, kBlockingL3);
  // Randomised range finder with power iterations, then the small problem exactly.
  const Eigen::Index l = std::min<Eigen::Index>({dims + 10, n, v});
  Eigen::MatrixXf omega(v, l);
  std::uint64_t state = options.seed;
  for (Eigen::Index j = 0; j < l; ++j)
    for (Eigen::Index i = 0; i < v; ++i) omega(i, j) = (splitmix64(state) >> 63) ? 1.0f : -1.0f;
  Eigen::MatrixXf q = orthonormal(x * omega);
  omega.resize(0, 0);
  for (unsigned i = 0; i < options.power_iterations; ++i) {
    const Eigen::MatrixXf z = orthonormal(xt * q);
    q = orthonormal(x * z);
  }
  const Eigen::MatrixXf bt = xt * q;  // (Q^T X)^T: terms x l
  q.resize(0, 0);
  const Eigen::MatrixXd gram = (bt.transpose() * bt).cast<double>();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(gram);
  if (eigen.info() != Eigen::Success)
    return make_error(ErrorCode::invalid_argument, "the semantic model's decomposition did not converge");
  // Eigenvalues ascend: the last `dims` are the largest. V = Bt U / sigma.
  Eigen::MatrixXf basis(l, dims);
  for (Eigen::Index k = 0; k < dims; ++k) {
    const Eigen::Index e = l - 1 - k;
    const double sigma = std::sqrt(std::max(0.0, eigen.eigenvalues()(e)));
    if (sigma > 0) basis.col(k) = (eigen.eigenvectors().col(e) / sigma).cast<float>();
    else basis.col(k).setZero();
  }
  const Eigen::MatrixXf right = bt * basis;  // terms x dims

  SemanticModel model;
  model.info.dims = options.dims;
  model.info.trained_on = static_cast<Xapian::doccount>(n);
  model.info.passages = total;
  model.info.seed = options.seed;
  model.vectors.reserve(static_cast<std::size_t>(v));
  for (Eigen::Index c = 0; c < v; ++c) {
    std::vector<float> vec(static_cast<std::size_t>(dims));
    const float w = idf[static_cast<std::size_t>(c)];
    for (Eigen::Index k = 0; k < dims; ++k) vec[static_cast<std::size_t>(k)] = w * right(c, k);
    // As stored (one byte a dimension), so that training and later runs fold in alike.
    std::vector<float> stored;
    sem::decode_term_vector(sem::encode_term_vector(vec), stored);
    model.vectors.emplace(names[column_term[static_cast<std::size_t>(c)]], std::move(stored));
  }
  model.info.terms = model.vectors.size();
  return model;
}

namespace {

// Replaces the shard's model with this one (its header and term vectors), marked incomplete
// until every passage has its vector.
void write_model(Xapian::WritableDatabase& shard, const sem::ModelInfo& model_info,
                 const std::unordered_map<std::string, std::vector<float>>& vectors) {
  std::vector<std::string> old;
  const std::string prefix(corpus::schema::kMetaSemanticTerm);
  for (auto k = shard.metadata_keys_begin(prefix); k != shard.metadata_keys_end(prefix); ++k) old.push_back(*k);
  for (const auto& key : old) shard.set_metadata(key, "");
  for (const auto& [term, vec] : vectors) shard.set_metadata(prefix + term, sem::encode_term_vector(vec));
  sem::ModelInfo info = model_info;
  info.complete = false;
  shard.set_metadata(std::string(corpus::schema::kMetaSemantic), info.to_json());
}

std::unordered_map<std::string, std::vector<float>> read_vectors(const Xapian::Database& db, unsigned dims) {
  std::unordered_map<std::string, std::vector<float>> vectors;
  const std::string prefix(corpus::schema::kMetaSemanticTerm);
  for (auto k = db.metadata_keys_begin(prefix); k != db.metadata_keys_end(prefix); ++k) {
    std::vector<float> vec;
    if (sem::decode_term_vector(db.get_metadata(*k), vec) && vec.size() == dims) vectors.emplace((*k).substr(prefix.size()), std::move(vec));
  }
  return vectors;
}

}  // namespace

corpus::Result<SemanticSummary> update_semantic(const Layout& layout, const SemanticOptions& options) {
  SemanticSummary summary;
  summary.action = "none";
  if (options.mode == SemanticOptions::Mode::off) {
    summary.reason = "--semantic off";
    return summary;
  }
  auto say = [&options](const std::string& line) {
    if (options.on_progress) options.on_progress(line);
  };
  try {
    Xapian::Database all(layout.dir);
    const Xapian::doccount total = all.get_doccount();
    std::optional<sem::ModelInfo> info = sem::read_info(all);
    bool train = false;
    if (options.mode == SemanticOptions::Mode::rebuild) {
      train = true;
      summary.reason = "--semantic rebuild";
    } else if (!info) {
      if (total < options.min_passages) {
        summary.action = "skipped";
        summary.reason = "fewer than " + count_text(options.min_passages) + " passages (" + count_text(total) + ")";
        return summary;
      }
      train = true;
      summary.reason = "the index had no semantic model";
    } else if (total >= 2 * std::max<Xapian::doccount>(1, info->passages)) {
      train = true;
      summary.reason = "the index has doubled since its model was trained (" + count_text(info->passages) + " -> " +
                       count_text(total) + " passages)";
    }

    std::unordered_map<std::string, std::vector<float>> vectors;
    unsigned dims = 0;
    bool every_passage = false;  // recompute all vectors (a new model, or one left incomplete)
    if (train) {
      say("semantic model: training " + std::to_string(options.dims) + " dimensions on " +
          count_text(std::min(total, options.max_train)) + " of " + count_text(total) + " passages");
      const auto start = Clock::now();
      auto model = train_semantic(all, options);
      if (!model.ok()) {
        if (options.mode == SemanticOptions::Mode::rebuild) return model.error();
        summary.action = "skipped";
        summary.reason = model.error().message;
        return summary;
      }
      summary.train_seconds = seconds_since(start);
      summary.action = info ? "retrained" : "trained";
      for (const auto& path : layout.shard_paths) {
        Xapian::WritableDatabase shard(path, Xapian::DB_OPEN);
        write_model(shard, model.value().info, model.value().vectors);
        shard.commit();
      }
      summary.info = model.value().info;
      dims = summary.info.dims;
      vectors = std::move(model.value().vectors);
      every_passage = true;
      std::ostringstream line;
      line.precision(3);
      line << "semantic model: " << dims << " dimensions, " << count_text(summary.info.terms) << " words, trained in "
           << summary.train_seconds << " s";
      say(line.str());
    } else {
      summary.info = *info;
      dims = info->dims;
      vectors = read_vectors(all, dims);
      // Shards that disagree (a stop between the commits that mark the model complete) are
      // made whole again like an incomplete model.
      bool agree = true;
      const std::string header = all.get_metadata(std::string(corpus::schema::kMetaSemantic));
      for (const auto& path : layout.shard_paths)
        agree = agree && Xapian::Database(path).get_metadata(std::string(corpus::schema::kMetaSemantic)) == header;
      every_passage = !info->complete || !agree;
      summary.action = "updated";
      summary.reason = every_passage ? "the model's vectors were left incomplete" : "passages without a vector";
      if (every_passage) {
        // A run stopped while writing a new model: the first shard's (which a search reads)
        // goes into every shard again, in case the stop came between two shards' commits.
        for (const auto& path : layout.shard_paths) {
          Xapian::WritableDatabase shard(path, Xapian::DB_OPEN);
          write_model(shard, *info, vectors);
          shard.commit();
        }
      }
    }

    // The vector pass, shard by shard.
    const auto start = Clock::now();
    Xapian::doccount done = 0;
    for (const auto& path : layout.shard_paths) {
      Xapian::WritableDatabase shard(path, Xapian::DB_OPEN);
      std::uint32_t pending = 0;
      for (auto p = shard.postlist_begin(""); p != shard.postlist_end(""); ++p) {
        if (options.stop_requested && options.stop_requested()) {
          shard.commit();
          summary.interrupted = true;
          summary.vector_seconds = seconds_since(start);
          return summary;
        }
        Xapian::Document doc = shard.get_document(*p);
        const std::string old = doc.get_value(corpus::schema::kSlotSemantic);
        if (!every_passage && !old.empty()) continue;
        const std::string now = passage_vector(doc, vectors, dims);
        if (now == old) continue;
        if (now.empty()) doc.remove_value(corpus::schema::kSlotSemantic);
        else doc.add_value(corpus::schema::kSlotSemantic, now);
        shard.replace_document(*p, doc);
        if (!now.empty()) ++summary.vectors_written;
        if (++pending >= options.commit_every) {
          shard.commit();
          pending = 0;
        }
        if (++done % 100000 == 0) say("semantic vectors: " + count_text(done) + " passages");
      }
      shard.commit();
    }
    // Complete only once every shard holds every vector: a stop between two shards must leave
    // the model incomplete, or the next run would keep the other shard's vectors of an old one.
    if (every_passage) {
      sem::ModelInfo complete = summary.info;
      complete.complete = true;
      for (const auto& path : layout.shard_paths) {
        Xapian::WritableDatabase shard(path, Xapian::DB_OPEN);
        shard.set_metadata(std::string(corpus::schema::kMetaSemantic), complete.to_json());
        shard.commit();
      }
    }
    summary.info.complete = true;
    summary.vector_seconds = seconds_since(start);
  } catch (const Xapian::Error& e) {
    return make_error(ErrorCode::unavailable, layout.dir + ": semantic model: " + e.get_description());
  }
  return summary;
}

}  // namespace medsearch::indexer
