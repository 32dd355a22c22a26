// Byte input from a plain or gzip-compressed file (detected from the magic bytes, not the
// name), with the counters that progress reports need. Readers frame records from it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "corpus/result.h"

namespace medsearch::corpus {

class InputFile {
 public:
  // Opens `path`; a file starting with the gzip magic bytes is decompressed transparently
  // (concatenated gzip members too); a pipe is read through zlib, which does the same without
  // reading its first bytes twice. Fails with `unavailable` when it cannot be opened.
  static Result<std::unique_ptr<InputFile>> open(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Reads up to `n` bytes into `buffer`; returns how many (0 at the end). After a read error
  // or corrupt compressed data it returns 0 and error() says why.
  std::size_t read(char* buffer, std::size_t n);

  // Reads the next line (without its '\n'; a trailing '\r' is kept) into `line`. Returns
  // false at the end of input. Lines longer than `max_bytes` are still read whole (the caller
  // decides what is too long).
  bool getline(std::string& line);

  // Reads everything that is left. Fails with `invalid_argument` when more than `max_bytes`
  // would be read, or with `corrupt`/`unavailable` on a read error.
  Result<std::string> read_all(std::size_t max_bytes);

  // Peeks at up to `n` bytes of decompressed content from the current position without
  // consuming them (used for format detection).
  std::string peek(std::size_t n);

  const std::string& path() const { return path_; }
  bool compressed() const { return gz_ != nullptr; }  // also true for a pipe (read through zlib)
  std::uint64_t file_size() const { return file_size_; }
  // Bytes of the file consumed so far (compressed bytes for .gz), for MB/s and ETA.
  std::uint64_t file_bytes_read() const;
  // Decompressed bytes handed out so far.
  std::uint64_t bytes_out() const { return bytes_out_; }
  // Empty unless a read failed.
  const std::string& error() const { return error_; }

 private:
  InputFile() = default;
  std::size_t fill();  // refills buffer_ from the source; returns bytes added

  std::string path_;
  std::FILE* file_ = nullptr;
  void* gz_ = nullptr;  // gzFile, kept opaque so zlib stays out of this header
  std::uint64_t file_size_ = 0;
  std::uint64_t bytes_out_ = 0;
  std::string buffer_;
  std::size_t pos_ = 0;
  bool eof_ = false;
  std::string error_;
};

}  // namespace medsearch::corpus
