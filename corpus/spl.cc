// Placeholder until the spl reader lands: detection says no, and reading reports why.
#include "corpus/formats.h"

namespace medsearch::corpus::formats {
namespace {
class Unsupported : public RecordReader {
 public:
  explicit Unsupported(std::unique_ptr<InputFile> in) : in_(std::move(in)) {}
  bool next_raw(RawItem& item) override {
    if (done_) return false;
    done_ = true;
    item.location = in_->path();
    item.error = "the spl reader is not built in yet";
    return true;
  }
  void parse(const RawItem& raw, std::vector<ReadItem>& out) const override {
    ReadItem item;
    item.location = raw.location;
    item.error = make_error(ErrorCode::invalid_argument, raw.error);
    out.push_back(std::move(item));
  }
  const InputFile& input() const override { return *in_; }
 private:
  std::unique_ptr<InputFile> in_;
  bool done_ = false;
};
}  // namespace
std::unique_ptr<RecordReader> make_spl_reader(std::unique_ptr<InputFile> in) { return std::make_unique<Unsupported>(std::move(in)); }
bool looks_like_spl(std::string_view) { return false; }
}  // namespace medsearch::corpus::formats
