// crash_check: the verdict of tests/crash_test.sh on an index left by a SIGKILLed
// medsearch-index. It checks that the index opens as one database and that each shard holds
// exactly what its last commit wrote: the first K records routed to it, in input order, K a
// multiple of --commit-every (or all of them), each with all its passages, nothing else.
//
// Usage: crash_check DB INPUT.jsonl COMMIT_EVERY REFERENCE_DB
//   INPUT is the JSONL the indexer read (records named by "_id" or "id"); REFERENCE_DB is a
//   complete index of the same input, which gives each record's passage count.
// Prints "committed N" (records held) on stdout; exits 1 with reasons on stderr when a check
// fails, 2 on usage or I/O errors.
//
// Usage: crash_check --semantic DB
//   The semantic model's state (corpus/semantic.h): prints "semantic none", or "semantic
//   complete|incomplete, V of N passages with a vector"; exits 1 when the shards' models differ
//   or a complete model leaves a passage without its vector, 2 when DB does not open.
#include <xapian.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "corpus/schema.h"
#include "corpus/semantic.h"
#include "indexer/pipeline.h"

namespace {

namespace fs = std::filesystem;
using medsearch::corpus::schema::kPrefixRecordId;

// Record id -> number of passages (documents indexed by its XR term).
std::map<std::string, Xapian::doccount> records_of(const Xapian::Database& db) {
  std::map<std::string, Xapian::doccount> out;
  const std::string prefix(kPrefixRecordId);
  for (auto t = db.allterms_begin(prefix); t != db.allterms_end(prefix); ++t)
    out[(*t).substr(prefix.size())] = t.get_termfreq();
  return out;
}

int check_semantic(const std::string& db_dir) {
  namespace schema = medsearch::corpus::schema;
  try {
    Xapian::Database whole(db_dir);
    std::vector<std::string> shards;
    for (const auto& entry : fs::directory_iterator(db_dir))
      if (entry.path().filename().string().rfind("shard-", 0) == 0) shards.push_back(entry.path().string());
    if (shards.empty()) shards.push_back(db_dir);
    int failures = 0;
    const std::string header = Xapian::Database(shards.front()).get_metadata(std::string(schema::kMetaSemantic));
    for (const auto& shard : shards) {
      Xapian::Database db(shard);
      if (db.get_metadata(std::string(schema::kMetaSemantic)) != header) {
        std::cerr << "crash_check: " << shard << " holds another semantic model header than " << shards.front() << "\n";
        ++failures;
      }
    }
    const auto info = medsearch::corpus::semantic::read_info(whole);
    if (!info) {
      std::cout << "semantic none\n";
      return failures == 0 ? 0 : 1;
    }
    Xapian::doccount with = 0;
    for (auto p = whole.postlist_begin(""); p != whole.postlist_end(""); ++p)
      if (whole.get_document(*p).get_value(schema::kSlotSemantic).size() == info->dims) ++with;
    std::cout << "semantic " << (info->complete ? "complete" : "incomplete") << ", " << with << " of "
              << whole.get_doccount() << " passages with a vector\n";
    if (info->complete && with != whole.get_doccount()) {
      std::cerr << "crash_check: the model is complete but " << whole.get_doccount() - with << " passages lack a vector\n";
      ++failures;
    }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "crash_check: " << e.what() << "\n";
    return 2;
  } catch (const Xapian::Error& e) {
    std::cerr << "crash_check: " << e.get_description() << "\n";
    return 2;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--semantic") return check_semantic(argv[2]);
  if (argc != 5) {
    std::cerr << "usage: crash_check DB INPUT.jsonl COMMIT_EVERY REFERENCE_DB\n";
    return 2;
  }
  const std::string db_dir = argv[1];
  const unsigned long commit_every = std::strtoul(argv[3], nullptr, 10);
  int failures = 0;
  auto fail = [&](const std::string& why) {
    std::cerr << "crash_check: " << why << "\n";
    ++failures;
  };

  std::vector<std::string> ids;
  {
    std::ifstream in(argv[2]);
    if (!in) {
      std::cerr << "crash_check: cannot read " << argv[2] << "\n";
      return 2;
    }
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line);
      ids.push_back(j.contains("_id") ? j["_id"].get<std::string>() : j["id"].get<std::string>());
    }
  }

  std::map<std::string, Xapian::doccount> reference;
  std::vector<std::string> shards;
  try {
    reference = records_of(Xapian::Database(argv[4]));
    for (const auto& entry : fs::directory_iterator(db_dir))
      if (entry.path().filename().string().rfind("shard-", 0) == 0) shards.push_back(entry.path().string());
  } catch (const std::exception& e) {
    std::cerr << "crash_check: " << e.what() << "\n";
    return 2;
  }
  std::sort(shards.begin(), shards.end());
  if (shards.empty()) shards.push_back(db_dir);  // one unsharded database

  // The index must open as one database (what the searcher and the server do).
  std::size_t held_total = 0;
  try {
    Xapian::Database whole(db_dir);
    std::size_t passages = 0;
    for (const auto& [id, n] : records_of(whole)) passages += n;
    if (passages != whole.get_doccount())
      fail("the index holds " + std::to_string(whole.get_doccount()) + " passages but its records account for " +
           std::to_string(passages));
  } catch (const Xapian::Error& e) {
    fail("the index does not open: " + e.get_description());
    return 1;
  }

  const auto count = static_cast<std::uint32_t>(shards.size());
  for (std::uint32_t s = 0; s < count; ++s) {
    std::vector<std::string> routed;  // this shard's records in input order
    for (const auto& id : ids)
      if (count == 1 || medsearch::indexer::shard_of(id, count) == s) routed.push_back(id);
    std::map<std::string, Xapian::doccount> held;
    try {
      held = records_of(Xapian::Database(shards[s]));
    } catch (const Xapian::Error& e) {
      fail(shards[s] + ": does not open: " + e.get_description());
      continue;
    }
    const std::size_t k = held.size();
    held_total += k;
    if (k != routed.size() && commit_every > 0 && k % commit_every != 0)
      fail(shards[s] + ": holds " + std::to_string(k) + " records, not a multiple of " + std::to_string(commit_every) +
           " (a partial commit)");
    std::set<std::string> prefix(routed.begin(), routed.begin() + static_cast<long>(std::min(k, routed.size())));
    for (const auto& [id, n] : held) {
      if (!prefix.count(id)) fail(shards[s] + ": holds " + id + ", which is not among its first " + std::to_string(k));
      auto ref = reference.find(id);
      if (ref == reference.end() || ref->second != n)
        fail(shards[s] + ": record " + id + " has " + std::to_string(n) + " passages, the complete index " +
             std::to_string(ref == reference.end() ? 0 : ref->second));
    }
  }
  std::cout << "committed " << held_total << "\n";
  return failures == 0 ? 0 : 1;
}
