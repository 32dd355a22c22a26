// The Lucene baseline of scripts/eval.sh --baseline lucene: each query searched as
// scripts/bench-query.sh's Lucene loop (LuceneSearch.java) searches it (BM25Similarity,
// MultiFieldQueryParser over title and text with EnglishAnalyzer, the question escaped), over the
// index LuceneIndex.java writes from the same corpus.jsonl, its best DEPTH documents written as
// a TREC run. The same arguments, errors and exit codes as the C++ run writers (trec_run.h):
//
//   java -cp LUCENE_JARS:CLASSES LuceneTrecRun INDEX QUERIES.jsonl RUN.txt [DEPTH]
//
// Build (with LuceneIndex.java, whose JSON reader it uses): javac -cp LUCENE_JARS LuceneIndex.java LuceneTrecRun.java
import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.queryparser.classic.MultiFieldQueryParser;
import org.apache.lucene.queryparser.classic.QueryParser;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.FSDirectory;

public final class LuceneTrecRun {
  public static void main(String[] args) {
    if (args.length < 3 || args.length > 4) {
      System.err.println("usage: LuceneTrecRun INDEX QUERIES.jsonl RUN.txt [DEPTH]");
      System.exit(2);
    }
    int depth = 100;
    if (args.length == 4) {
      try {
        depth = Integer.parseInt(args[3]);
      } catch (NumberFormatException e) {
        depth = 0;
      }
      if (depth < 1 || depth > 10000) {
        System.err.println("LuceneTrecRun: DEPTH must be a whole number from 1 to 10000");
        System.exit(2);
      }
    }
    long run = 0, skipped = 0;
    try (DirectoryReader reader = DirectoryReader.open(FSDirectory.open(new File(args[0])));
         BufferedReader in = new BufferedReader(new InputStreamReader(new FileInputStream(args[1]), StandardCharsets.UTF_8));
         PrintWriter out = new PrintWriter(new OutputStreamWriter(new java.io.FileOutputStream(args[2]), StandardCharsets.UTF_8))) {
      IndexSearcher searcher = new IndexSearcher(reader);
      searcher.setSimilarity(new BM25Similarity());
      MultiFieldQueryParser parser = new MultiFieldQueryParser(new String[] {"title", "text"}, new EnglishAnalyzer());
      String line;
      long lineno = 0;
      while ((line = in.readLine()) != null) {
        ++lineno;
        if (line.trim().isEmpty()) continue;
        String id, text;
        try {
          Map<String, String> query = new LuceneIndex.FlatJson(line).object();
          id = query.get("_id");
          text = query.get("text");
          if (id == null || text == null) throw new IllegalArgumentException("no \"_id\" or \"text\" string");
        } catch (RuntimeException e) {
          System.err.println(args[1] + ":" + lineno + ": " + e.getMessage());
          ++skipped;
          continue;
        }
        TopDocs top = searcher.search(parser.parse(QueryParser.escape(text)), depth);
        int rank = 0;
        for (ScoreDoc sd : top.scoreDocs)
          out.println(id + " Q0 " + searcher.doc(sd.doc).get("id") + " " + (++rank) + " " + sd.score + " lucene-bm25");
        ++run;
      }
      if (out.checkError()) throw new IOException("cannot write " + args[2]);
    } catch (Exception e) {
      System.err.println("LuceneTrecRun: " + e.getMessage());
      System.exit(2);
    }
    System.err.println("LuceneTrecRun: " + run + " queries run, " + skipped + " lines skipped");
    System.exit(skipped > 0 ? 1 : 0);
  }
}
