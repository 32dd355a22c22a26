#include "corpus/semantic.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>

#include <nlohmann/json.hpp>

#include "corpus/schema.h"

namespace medsearch::corpus::semantic {

std::string ModelInfo::to_json() const {
  return nlohmann::json{{"method", "lsa"}, {"dims", dims},   {"trained_on", trained_on}, {"passages", passages},
                        {"terms", terms},  {"seed", seed}, {"complete", complete}}
      .dump();
}

std::optional<ModelInfo> ModelInfo::from_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto whole = [&j](const char* key) { return j.contains(key) && j[key].is_number_unsigned(); };
  if (!whole("dims") || !whole("trained_on") || !whole("passages") || !whole("terms")) return std::nullopt;
  ModelInfo info;
  const auto dims = j["dims"].get<std::uint64_t>();
  if (dims == 0 || dims > 4096) return std::nullopt;
  info.dims = static_cast<unsigned>(dims);
  info.trained_on = static_cast<Xapian::doccount>(std::min<std::uint64_t>(j["trained_on"].get<std::uint64_t>(), 0xffffffffu));
  info.passages = static_cast<Xapian::doccount>(std::min<std::uint64_t>(j["passages"].get<std::uint64_t>(), 0xffffffffu));
  info.terms = static_cast<std::size_t>(j["terms"].get<std::uint64_t>());
  if (whole("seed")) info.seed = j["seed"].get<std::uint64_t>();
  if (j.contains("complete") && j["complete"].is_boolean()) info.complete = j["complete"].get<bool>();
  return info;
}

std::optional<ModelInfo> read_info(const Xapian::Database& db) {
  return ModelInfo::from_json(db.get_metadata(std::string(schema::kMetaSemantic)));
}

bool is_body_term(std::string_view term) {
  return term.size() > 1 && term[0] == 'Z' && !std::isupper(static_cast<unsigned char>(term[1]));
}

double term_weight(Xapian::termcount wdf) { return wdf == 0 ? 0.0 : 1.0 + std::log(static_cast<double>(wdf)); }

namespace {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big);

std::uint32_t to_little(std::uint32_t v) {
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  return v;
}

}  // namespace

std::string encode_term_vector(const std::vector<float>& v) {
  float largest = 0;
  for (float x : v) largest = std::max(largest, std::fabs(x));
  const float scale = largest > 0 && std::isfinite(largest) ? largest / 127.0f : 0.0f;
  std::string out(4 + v.size(), '\0');
  const std::uint32_t bits = to_little(std::bit_cast<std::uint32_t>(scale));
  std::memcpy(out.data(), &bits, 4);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const float q = scale > 0 ? std::round(v[i] / scale) : 0.0f;
    out[4 + i] = static_cast<char>(static_cast<signed char>(std::clamp(q, -127.0f, 127.0f)));
  }
  return out;
}

bool decode_term_vector(std::string_view bytes, std::vector<float>& out) {
  if (bytes.size() < 5) return false;
  std::uint32_t bits = 0;
  std::memcpy(&bits, bytes.data(), 4);
  const float scale = std::bit_cast<float>(to_little(bits));
  if (!std::isfinite(scale) || scale < 0) return false;
  out.resize(bytes.size() - 4);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(static_cast<signed char>(bytes[4 + i])) * scale;
  return true;
}

std::string encode_unit(const std::vector<float>& v) {
  // Scaled so that the largest component is 127: a cosine does not depend on length, and the
  // bytes then carry as much precision as they can (normalised to length 1, most components of
  // a 200-dimension vector would round to within 10 of 0).
  double largest = 0;
  for (float x : v) largest = std::max(largest, std::fabs(static_cast<double>(x)));
  if (!(largest > 0) || !std::isfinite(largest)) return {};
  std::string out(v.size(), '\0');
  for (std::size_t i = 0; i < v.size(); ++i)
    out[i] = static_cast<char>(static_cast<signed char>(std::clamp(std::round(v[i] / largest * 127.0), -127.0, 127.0)));
  return out;
}

double cosine(std::string_view a, std::string_view b) {
  if (a.empty() || a.size() != b.size()) return 0;
  long long dot = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const int x = static_cast<signed char>(a[i]), y = static_cast<signed char>(b[i]);
    dot += x * y;
    aa += x * x;
    bb += y * y;
  }
  // Quantisation leaves the lengths near, not at, 127: divide by the actual ones.
  if (aa == 0 || bb == 0) return 0;
  return static_cast<double>(dot) / std::sqrt(static_cast<double>(aa) * static_cast<double>(bb));
}

const std::vector<float>* Projector::vector_of(const std::string& term) {
  auto found = cache_.find(term);
  if (found == cache_.end()) {
    std::vector<float> v;
    const std::string key = std::string(schema::kMetaSemanticTerm) + term;
    const std::string bytes = key.size() <= kMaxMetadataKey ? db_.get_metadata(key) : std::string();
    if (!decode_term_vector(bytes, v) || v.size() != dims_) v.clear();
    found = cache_.emplace(term, std::move(v)).first;
  }
  return found->second.empty() ? nullptr : &found->second;
}

std::string Projector::project(const std::vector<std::pair<std::string, double>>& weighted) {
  std::vector<float> sum(dims_, 0.0f);
  bool any = false;
  for (const auto& [term, weight] : weighted) {
    if (weight == 0) continue;
    const std::vector<float>* v = vector_of(term);
    if (v == nullptr) continue;
    any = true;
    const float w = static_cast<float>(weight);
    for (unsigned i = 0; i < dims_; ++i) sum[i] += w * (*v)[i];
  }
  return any ? encode_unit(sum) : std::string();
}

}  // namespace medsearch::corpus::semantic
