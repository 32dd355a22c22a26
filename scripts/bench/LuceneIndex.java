// The Lucene 4.10 peer of scripts/bench-index.sh.
//
// One IndexWriter with EnglishAnalyzer (standard tokenizer, English possessives, lower case, English
// stop words, Porter stemmer), IndexWriterConfig's defaults (16 MB RAM buffer, TieredMergePolicy,
// ConcurrentMergeScheduler), one indexing thread, OpenMode.CREATE. Per record: a StringField "id"
// (stored, not analysed), TextField "title" and "text" (stored, analysed, positions kept: the
// default for TextField), written with updateDocument(new Term("id", id), doc), the upsert that
// matches Xapian's replace_document on a unique term. One commit() and close() at the end.
//
//   java -cp lucene-core.jar:lucene-analyzers-common.jar:. LuceneIndex DIR FILE.jsonl
//   java -cp ... LuceneIndex --check DIR     print "docs N" (numDocs of the committed index)
//
// BEIR lines are read with the small JSON reader below (top-level string members; other values
// skipped), so that no JSON library is needed beyond Debian's Lucene packages.
import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.Term;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.Version;

public final class LuceneIndex {
  public static void main(String[] args) throws Exception {
    if (args.length == 2 && args[0].equals("--check")) {
      try (Directory dir = FSDirectory.open(new File(args[1]));
           DirectoryReader reader = DirectoryReader.open(dir)) {
        System.out.println("docs " + reader.numDocs());
      }
      return;
    }
    if (args.length != 2) {
      System.err.println("usage: LuceneIndex DIR FILE.jsonl | LuceneIndex --check DIR");
      System.exit(2);
    }
    Analyzer analyzer = new EnglishAnalyzer();
    IndexWriterConfig config = new IndexWriterConfig(Version.LATEST, analyzer);
    config.setOpenMode(IndexWriterConfig.OpenMode.CREATE);
    long indexed = 0;
    long lineno = 0;
    try (Directory dir = FSDirectory.open(new File(args[0]));
         IndexWriter writer = new IndexWriter(dir, config);
         BufferedReader in = new BufferedReader(
             new InputStreamReader(new FileInputStream(args[1]), StandardCharsets.UTF_8), 1 << 16)) {
      String line;
      while ((line = in.readLine()) != null) {
        ++lineno;
        if (line.isEmpty()) continue;
        Map<String, String> record;
        try {
          record = new FlatJson(line).object();
        } catch (IllegalArgumentException e) {
          System.err.println(args[1] + ":" + lineno + ": " + e.getMessage());
          System.exit(2);
          return;
        }
        String id = record.get("_id");
        if (id == null) {
          System.err.println(args[1] + ":" + lineno + ": no _id");
          System.exit(2);
        }
        Document doc = new Document();
        doc.add(new StringField("id", id, Field.Store.YES));
        doc.add(new TextField("title", record.getOrDefault("title", ""), Field.Store.YES));
        doc.add(new TextField("text", record.getOrDefault("text", ""), Field.Store.YES));
        writer.updateDocument(new Term("id", id), doc);
        ++indexed;
      }
      writer.commit();
    }
    System.err.println("LuceneIndex: indexed " + indexed + " records");
  }

  /** Top-level string members of one JSON object; nested values are parsed and skipped. */
  static final class FlatJson {
    private final String s;
    private int i;

    FlatJson(String s) { this.s = s; }

    Map<String, String> object() {
      Map<String, String> out = new HashMap<>();
      ws();
      expect('{');
      ws();
      if (peek() == '}') { ++i; return out; }
      while (true) {
        ws();
        String key = string();
        ws();
        expect(':');
        ws();
        if (peek() == '"') out.put(key, string()); else skipValue();
        ws();
        char c = next();
        if (c == '}') return out;
        if (c != ',') throw new IllegalArgumentException("expected , or } at " + (i - 1));
      }
    }

    private void skipValue() {
      char c = peek();
      if (c == '"') { string(); return; }
      if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        ++i;
        ws();
        if (peek() == close) { ++i; return; }
        while (true) {
          ws();
          if (c == '{') { string(); ws(); expect(':'); ws(); }
          skipValue();
          ws();
          char d = next();
          if (d == close) return;
          if (d != ',') throw new IllegalArgumentException("expected , at " + (i - 1));
        }
      }
      while (i < s.length() && ",}] \t\r\n".indexOf(s.charAt(i)) < 0) ++i;  // number, true, false, null
    }

    private String string() {
      expect('"');
      StringBuilder b = null;
      int start = i;
      while (true) {
        if (i >= s.length()) throw new IllegalArgumentException("unterminated string");
        char c = s.charAt(i++);
        if (c == '"') return b == null ? s.substring(start, i - 1) : b.toString();
        if (c != '\\') { if (b != null) b.append(c); continue; }
        if (b == null) b = new StringBuilder(s.substring(start, i - 1));
        char e = next();
        switch (e) {
          case '"': b.append('"'); break;
          case '\\': b.append('\\'); break;
          case '/': b.append('/'); break;
          case 'b': b.append('\b'); break;
          case 'f': b.append('\f'); break;
          case 'n': b.append('\n'); break;
          case 'r': b.append('\r'); break;
          case 't': b.append('\t'); break;
          case 'u':
            if (i + 4 > s.length()) throw new IllegalArgumentException("bad \\u escape");
            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));  // surrogate pairs pass through
            i += 4;
            break;
          default: throw new IllegalArgumentException("bad escape \\" + e);
        }
      }
    }

    private void ws() { while (i < s.length() && Character.isWhitespace(s.charAt(i))) ++i; }
    private char peek() {
      if (i >= s.length()) throw new IllegalArgumentException("unexpected end of line");
      return s.charAt(i);
    }
    private char next() { char c = peek(); ++i; return c; }
    private void expect(char c) {
      if (next() != c) throw new IllegalArgumentException("expected " + c + " at " + (i - 1));
    }
  }
}
