// The plain Xapian loop: the baseline of scripts/bench-index.sh.
//
// What Xapian's examples/simpleindex.cc and the "getting started" index1 example do, for BEIR JSONL:
// one WritableDatabase, one TermGenerator with the English stemmer (default STEM_SOME), positions kept
// (index_text), the title indexed with the S prefix and unprefixed, then the text, a Q<id> unique term,
// replace_document(idterm, doc), the record's JSON line as document data, one commit at the end.
// No tuning: the flush threshold is Xapian's default (the script unsets XAPIAN_FLUSH_THRESHOLD).
//
//   xapian_simpleindex DB FILE.jsonl        index FILE into DB (created or overwritten)
//   xapian_simpleindex --check DB [PREFIX]  print "docs N" and, with PREFIX, "terms N" (distinct terms
//                                           with that prefix); opens a stub or a folder of shards too
//
// Build: g++ -O2 -std=c++17 xapian_simpleindex.cc $(pkg-config --cflags --libs xapian-core)
#include <xapian.h>

#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

int usage() {
  std::cerr << "usage: xapian_simpleindex DB FILE.jsonl\n"
               "       xapian_simpleindex --check DB [PREFIX]\n";
  return 2;
}

// Opens DB as Xapian would (folder, stub file); failing that, every sub-folder that is a database,
// so that a sharded layout without a stub file can still be counted.
Xapian::Database open_any(const std::string& path) {
  try {
    return Xapian::Database(path);
  } catch (const Xapian::DatabaseOpeningError&) {
    Xapian::Database all;
    int shards = 0;
    if (DIR* dir = opendir(path.c_str())) {
      while (dirent* e = readdir(dir)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        try {
          all.add_database(Xapian::Database(path + "/" + name));
          ++shards;
        } catch (const Xapian::Error&) {
        }
      }
      closedir(dir);
    }
    if (shards == 0) throw;
    std::cerr << "xapian_simpleindex: " << path << ": opened " << shards << " shard folders\n";
    return all;
  }
}

int check(const std::string& path, const std::string& prefix, bool with_prefix) {
  Xapian::Database db = open_any(path);
  std::cout << "docs " << db.get_doccount() << "\n";
  if (with_prefix) {
    // Distinct terms with the prefix, counted once even if they occur in several shards.
    unsigned long long terms = 0;
    for (auto t = db.allterms_begin(prefix); t != db.allterms_end(prefix); ++t) ++terms;
    std::cout << "terms " << terms << "\n";
  }
  return 0;
}

int index(const std::string& path, const std::string& input) {
  std::ifstream in(input, std::ios::binary);
  if (!in) {
    std::cerr << "xapian_simpleindex: cannot read " << input << "\n";
    return 2;
  }
  Xapian::WritableDatabase db(path, Xapian::DB_CREATE_OR_OVERWRITE);
  Xapian::TermGenerator indexer;
  indexer.set_stemmer(Xapian::Stem("english"));  // stemming strategy: the default, STEM_SOME

  std::string line;
  unsigned long long lineno = 0, indexed = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      std::cerr << input << ":" << lineno << ": " << e.what() << "\n";
      return 2;
    }
    const std::string id = record.at("_id").get<std::string>();
    const std::string title = record.value("title", "");
    const std::string text = record.value("text", "");

    Xapian::Document doc;
    doc.set_data(line);
    indexer.set_document(doc);
    indexer.index_text(title, 1, "S");
    indexer.index_text(title);
    indexer.increase_termpos();
    indexer.index_text(text);

    const std::string idterm = "Q" + id;
    doc.add_boolean_term(idterm);
    db.replace_document(idterm, doc);
    ++indexed;
  }
  db.commit();
  std::cerr << "xapian_simpleindex: indexed " << indexed << " records\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc >= 3 && std::string(argv[1]) == "--check") {
    if (argc > 4) return usage();
    return check(argv[2], argc == 4 ? argv[3] : "", argc == 4);
  }
  if (argc != 3) return usage();
  return index(argv[1], argv[2]);
} catch (const Xapian::Error& e) {
  std::cerr << "xapian_simpleindex: " << e.get_description() << "\n";
  return 2;
} catch (const std::exception& e) {
  std::cerr << "xapian_simpleindex: " << e.what() << "\n";
  return 2;
}
