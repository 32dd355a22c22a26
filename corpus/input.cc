// Plain and gzip input through one interface, buffered.
#include "corpus/input.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

namespace medsearch::corpus {

namespace {
constexpr std::size_t kChunk = 1 << 18;
}

Result<std::unique_ptr<InputFile>> InputFile::open(const std::string& path) {
  std::unique_ptr<InputFile> in(new InputFile());
  in->path_ = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(ErrorCode::unavailable, path + ": cannot open for reading (" + std::strerror(errno) + ")");
  if (S_ISDIR(st.st_mode)) return make_error(ErrorCode::unavailable, path + ": is a directory");
  in->file_size_ = static_cast<std::uint64_t>(st.st_size);
  in->file_ = std::fopen(path.c_str(), "rb");
  if (in->file_ == nullptr)
    return make_error(ErrorCode::unavailable, path + ": cannot open for reading (" + std::strerror(errno) + ")");
  if (!S_ISREG(st.st_mode)) {
    // A pipe (/dev/stdin, <(zcat ...)) cannot be rewound after its magic bytes are read: zlib
    // reads it instead, which recognises gzip itself and passes any other data through.
    gzFile gz = gzdopen(dup(fileno(in->file_)), "rb");
    if (gz == nullptr) return make_error(ErrorCode::unavailable, path + ": cannot open for reading");
    gzbuffer(gz, 1 << 17);
    in->gz_ = gz;
    return in;
  }
  unsigned char magic[2] = {0, 0};
  const std::size_t got = std::fread(magic, 1, 2, in->file_);
  std::rewind(in->file_);
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    // Hand the descriptor to zlib; gzdopen takes ownership of a dup so fclose stays ours.
    gzFile gz = gzdopen(dup(fileno(in->file_)), "rb");
    if (gz == nullptr) return make_error(ErrorCode::unavailable, path + ": cannot open gzip stream");
    gzbuffer(gz, 1 << 17);
    in->gz_ = gz;
  }
  return in;
}

InputFile::~InputFile() {
  if (gz_ != nullptr) gzclose(static_cast<gzFile>(gz_));
  if (file_ != nullptr) std::fclose(file_);
}

std::uint64_t InputFile::file_bytes_read() const {
  if (gz_ != nullptr) {
    const z_off_t offset = gzoffset(static_cast<gzFile>(gz_));
    return offset < 0 ? 0 : static_cast<std::uint64_t>(offset);
  }
  const long offset = std::ftell(file_);
  const std::uint64_t consumed = offset < 0 ? 0 : static_cast<std::uint64_t>(offset);
  return consumed - (buffer_.size() - pos_);
}

std::size_t InputFile::fill() {
  if (eof_) return 0;
  // Drop what has been consumed, then append a chunk.
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  const std::size_t old = buffer_.size();
  buffer_.resize(old + kChunk);
  std::size_t got = 0;
  if (gz_ != nullptr) {
    const int n = gzread(static_cast<gzFile>(gz_), buffer_.data() + old, static_cast<unsigned>(kChunk));
    if (n < 0) {
      int errnum = 0;
      const char* message = gzerror(static_cast<gzFile>(gz_), &errnum);
      error_ = "corrupt gzip data (" + std::string(message ? message : "unknown") + ")";
      eof_ = true;
    } else {
      got = static_cast<std::size_t>(n);
      if (n == 0) {
        int errnum = 0;
        gzerror(static_cast<gzFile>(gz_), &errnum);
        if (errnum != Z_OK && errnum != Z_STREAM_END) error_ = "truncated or corrupt gzip data";
        eof_ = true;
      }
    }
  } else {
    got = std::fread(buffer_.data() + old, 1, kChunk, file_);
    if (got == 0) {
      if (std::ferror(file_)) error_ = std::string("read error (") + std::strerror(errno) + ")";
      eof_ = true;
    }
  }
  buffer_.resize(old + got);
  return got;
}

std::size_t InputFile::read(char* out, std::size_t n) {
  if (pos_ >= buffer_.size() && fill() == 0) return 0;
  const std::size_t take = std::min(n, buffer_.size() - pos_);
  std::memcpy(out, buffer_.data() + pos_, take);
  pos_ += take;
  bytes_out_ += take;
  return take;
}

bool InputFile::getline(std::string& line) {
  line.clear();
  std::size_t searched = 0;  // bytes after pos_ already known to hold no newline
  while (true) {
    const char* base = buffer_.data() + pos_;
    const std::size_t available = buffer_.size() - pos_;
    if (const void* nl = std::memchr(base + searched, '\n', available - searched)) {
      const std::size_t length = static_cast<std::size_t>(static_cast<const char*>(nl) - base);
      line.assign(base, length);
      pos_ += length + 1;
      bytes_out_ += length + 1;
      return true;
    }
    searched = available;
    if (fill() == 0) {  // fill() moved the unread bytes to the front: pos_ is 0 now
      if (buffer_.size() == pos_) return false;
      line.assign(buffer_, pos_, std::string::npos);
      bytes_out_ += buffer_.size() - pos_;
      pos_ = buffer_.size();
      return true;
    }
  }
}

Result<std::string> InputFile::read_all(std::size_t max_bytes) {
  while (fill() > 0) {
    if (buffer_.size() - pos_ > max_bytes) break;
  }
  if (!error_.empty()) return make_error(ErrorCode::corrupt, path_ + ": " + error_);
  if (buffer_.size() - pos_ > max_bytes)
    return make_error(ErrorCode::invalid_argument,
                      path_ + ": larger than " + std::to_string(max_bytes) + " bytes");
  std::string out = buffer_.substr(pos_);
  bytes_out_ += out.size();
  pos_ = buffer_.size();
  return out;
}

std::string InputFile::peek(std::size_t n) {
  while (buffer_.size() - pos_ < n && fill() > 0) {
  }
  return buffer_.substr(pos_, n);
}

}  // namespace medsearch::corpus
