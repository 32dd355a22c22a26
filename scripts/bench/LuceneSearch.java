// The Lucene 4.10 peer of scripts/bench-query.sh, over the index LuceneIndex.java wrote: one
// IndexSearcher (thread-safe, shared by the threads, as Lucene recommends) with BM25Similarity
// (k1 1.2, b 0.75; the index's norms are the same encoding under Lucene 4's default and BM25),
// MultiFieldQueryParser over "title" and "text" with EnglishAnalyzer (default operator OR), the
// question escaped with QueryParser.escape so that its punctuation is text, search(query, 10),
// and the 10 hits' stored documents read. Same timing rules as query_loop.h (the C++ engines):
// warm-up passes on one thread first (this is the JIT warm-up: at least P passes and at least
// --warmup-queries W queries, within the budget), then T timed passes (default 1) on N threads
// taking queries from a shared counter, stopping after S seconds if S > 0.
//
//   java -cp lucene-core.jar:lucene-analyzers-common.jar:lucene-queryparser.jar:. LuceneSearch \
//     --index DIR --queries FILE.tsv --out FILE [--threads N] [--warmup P] [--passes T] [--budget-s S]
//
// Output as query_loop.h: LATENCIES.tsv "set id thread ms hits cpu_ms" (CPU time from ThreadMXBean) and one stdout line
// "queries N errors E wall_s W qps Q".
import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.queryparser.classic.MultiFieldQueryParser;
import org.apache.lucene.queryparser.classic.QueryParser;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.FSDirectory;

public final class LuceneSearch {
  static final class Q { String set, id, text; }

  public static void main(String[] args) throws Exception {
    String index = null, queriesPath = null, outPath = null;
    int threads = 1, warmup = 1, warmupQueries = 0, passes = 1;
    double budget = 0;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--index": index = args[i + 1]; break;
        case "--queries": queriesPath = args[i + 1]; break;
        case "--out": outPath = args[i + 1]; break;
        case "--threads": threads = Integer.parseInt(args[i + 1]); break;
        case "--warmup": warmup = Integer.parseInt(args[i + 1]); break;
        case "--warmup-queries": warmupQueries = Integer.parseInt(args[i + 1]); break;
        case "--passes": passes = Integer.parseInt(args[i + 1]); break;
        case "--budget-s": budget = Double.parseDouble(args[i + 1]); break;
        default: System.err.println("LuceneSearch: unknown option " + args[i]); System.exit(2);
      }
    }
    if (index == null || queriesPath == null || outPath == null || passes < 1) {
      System.err.println("usage: LuceneSearch --index DIR --queries FILE.tsv --out FILE [--threads N] [--warmup P] [--warmup-queries W] [--passes T] [--budget-s S]");
      System.exit(2);
    }
    final List<Q> queries = new ArrayList<>();
    try (BufferedReader in = new BufferedReader(new InputStreamReader(new FileInputStream(queriesPath), StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null) {
        String[] f = line.split("\t", 3);
        if (f.length < 3) continue;
        Q q = new Q();
        q.set = f[0]; q.id = f[1]; q.text = f[2];
        queries.add(q);
      }
    }
    final DirectoryReader reader = DirectoryReader.open(FSDirectory.open(new File(index)));
    final IndexSearcher searcher = new IndexSearcher(reader);
    searcher.setSimilarity(new BM25Similarity());
    final Analyzer analyzer = new EnglishAnalyzer();

    final long warmStart = System.nanoTime();
    MultiFieldQueryParser warmParser = new MultiFieldQueryParser(new String[] {"title", "text"}, analyzer);
    int warmed = 0;
    outer:
    for (int p = 0; p < warmup || warmed < warmupQueries; ++p) {
      for (Q q : queries) {
        search(searcher, warmParser, q.text);
        ++warmed;
        if (budget > 0 && (System.nanoTime() - warmStart) / 1e9 > budget) break outer;
      }
    }

    final int n = threads;
    final double budgetS = budget;
    final int timedPasses = passes;
    final AtomicInteger next = new AtomicInteger();
    final AtomicBoolean stop = new AtomicBoolean();
    final List<List<double[]>> rows = new ArrayList<>();  // {query index, thread, ms, hits, cpu ms}
    for (int t = 0; t < n; ++t) rows.add(new ArrayList<>());
    final ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
    final long start = System.nanoTime();
    Thread[] workers = new Thread[n];
    for (int t = 0; t < n; ++t) {
      final int thread = t;
      final MultiFieldQueryParser parser = new MultiFieldQueryParser(new String[] {"title", "text"}, analyzer);
      workers[t] = new Thread(() -> {
        while (!stop.get()) {
          int taken = next.getAndIncrement();
          if (taken >= (long) queries.size() * timedPasses) break;
          int i = taken % queries.size();
          long c0 = cpu.getCurrentThreadCpuTime();
          long t0 = System.nanoTime();
          int hits = search(searcher, parser, queries.get(i).text);
          long t1 = System.nanoTime();
          long c1 = cpu.getCurrentThreadCpuTime();
          rows.get(thread).add(new double[] {i, thread, (t1 - t0) / 1e6, hits, (c1 - c0) / 1e6});
          if (budgetS > 0 && (t1 - start) / 1e9 > budgetS) stop.set(true);
        }
      });
      workers[t].start();
    }
    for (Thread w : workers) w.join();
    double wall = (System.nanoTime() - start) / 1e9;
    int count = 0, errors = 0;
    try (PrintWriter out = new PrintWriter(outPath, "UTF-8")) {
      for (List<double[]> per : rows) {
        for (double[] r : per) {
          Q q = queries.get((int) r[0]);
          out.println(q.set + "\t" + q.id + "\t" + (int) r[1] + "\t" + r[2] + "\t" + (int) r[3] + "\t" + r[4]);
          ++count;
          if (r[3] < 0) ++errors;
        }
      }
    }
    System.out.printf("queries %d errors %d wall_s %.3f qps %.2f%n", count, errors, wall, wall > 0 ? count / wall : 0.0);
    reader.close();
  }

  static int search(IndexSearcher searcher, QueryParser parser, String text) {
    try {
      Query query = parser.parse(QueryParser.escape(text));
      TopDocs top = searcher.search(query, 10);
      long bytes = 0;
      for (ScoreDoc sd : top.scoreDocs) {
        bytes += searcher.doc(sd.doc).get("text").length();
      }
      return bytes < 0 ? 0 : top.scoreDocs.length;
    } catch (Exception e) {
      return -1;
    }
  }
}
