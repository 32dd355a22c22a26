#!/usr/bin/env python3
"""Statistics and the report of scripts/bench-query.sh (python3 standard library only).

  query_report.py stats LATENCIES.tsv
      one line "n errors p50 p95 p99 mean cpu_p50 cpu_p99" (ms; nearest-rank percentiles over the
      queries that answered; cpu_* over the per-query thread CPU time), then one line per query set "set NAME n p50 p99"
  query_report.py report OUT MARKDOWN PLOT_DIR
      reads OUT/results.tsv, OUT/sets.tsv and OUT/env.md (written by the script), writes the
      Markdown report and, with gnuplot, PLOT_DIR/perf-latency-p50.png and -p99.png
"""
import collections
import math
import os
import subprocess
import sys

KEEP_MARKER = "<!-- Written by hand: kept when bench-query.sh --publish rewrites the measurements above. -->"
ENGINE_ORDER = ["xapian", "medsearch-full", "medsearch-bare", "http", "lucene", "fts5"]
LABEL = {
    "xapian": "plain Xapian loop (BM25, simplesearch)",
    "medsearch-full": "medsearch library, every feature on (snippets 300 B, facets, rerank, intent)",
    "medsearch-bare": "medsearch library, snippets and facets off (rerank, intent on)",
    "http": "medsearch-server over HTTP (wrk; facets and snippets on)",
    "lucene": "Lucene 4.10 (BM25, EnglishAnalyzer)",
    "fts5": "SQLite FTS5 (porter, bm25)",
}
SHORT = {"xapian": "plain Xapian", "medsearch-full": "medsearch (all on)", "medsearch-bare": "medsearch (no snippets/facets)",
         "http": "medsearch HTTP", "lucene": "Lucene 4.10", "fts5": "SQLite FTS5"}


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def stats(path):
    all_ms, cpu_ms, errors = [], [], 0
    by_set = collections.defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 5:
                continue
            if int(cols[4]) < 0:
                errors += 1
                continue
            ms = float(cols[3])
            all_ms.append(ms)
            if len(cols) > 5:
                cpu_ms.append(float(cols[5]))
            by_set[cols[0]].append(ms)
    all_ms.sort()
    cpu_ms.sort()
    mean = sum(all_ms) / len(all_ms) if all_ms else float("nan")
    print(f"{len(all_ms) + errors} {errors} {percentile(all_ms, 50):.3f} {percentile(all_ms, 95):.3f} "
          f"{percentile(all_ms, 99):.3f} {mean:.3f} {percentile(cpu_ms, 50):.3f} {percentile(cpu_ms, 99):.3f}")
    for name in sorted(by_set):
        v = sorted(by_set[name])
        print(f"set {name} {len(v)} {percentile(v, 50):.3f} {percentile(v, 99):.3f}")


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    header, rows = lines[0], lines[1:]
    return [dict(zip(header, r)) for r in rows]


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def fmt(x, digits=1):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def report(out, markdown, plot_dir):
    results = read_tsv(os.path.join(out, "results.tsv"))
    sets = read_tsv(os.path.join(out, "sets.tsv"))
    env = open(os.path.join(out, "env.md"), encoding="utf-8").read() if os.path.exists(os.path.join(out, "env.md")) else ""

    # (corpus, engine) -> {threads: row}; corpus order as run.
    corpora = []
    info = {}
    grid = collections.defaultdict(dict)
    for r in results:
        c = r["corpus"]
        if c not in corpora:
            corpora.append(c)
            info[c] = r
        grid[(c, r["engine"])][r["threads"]] = r

    def cell(c, e, t, key):
        row = grid.get((c, e), {}).get(t)
        return num(row[key]) if row else float("nan")

    # HTTP rows are keyed by wrk's connection count. Saturation is the fewest connections
    # (more than one) that reach 95% of the best throughput measured: past it, more
    # connections only queue (Little's law: latency = connections / throughput).
    def loaded_qps(c):  # connections -> searches/s, the runs with more than one connection
        return {t: num(r["qps"]) for t, r in grid.get((c, "http"), {}).items() if t != "1" and not math.isnan(num(r["qps"]))}

    def saturation(c):
        loaded = loaded_qps(c)
        if not loaded:
            return None
        best = max(loaded.values())
        return str(min(int(t) for t, q in loaded.items() if q >= 0.95 * best))

    def http_best_qps(c):
        return max(loaded_qps(c).values(), default=float("nan"))

    def http_rss(c):
        rss = [num(r["rss_kb"]) for r in grid.get((c, "http"), {}).values()]
        rss = [x for x in rss if not math.isnan(x)]
        return max(rss) / 1024 if rss else float("nan")

    lines = [env.rstrip(), ""]

    # Targets, at the sizes the issue names (100k for the ratios and HTTP, 1M for p99 and RSS).
    def corpus_with(passages):
        for c in corpora:
            if int(info[c]["passages"]) == passages:
                return c
        return None

    gen = [c for c in corpora if info[c]["kind"] == "generated"]
    largest = max(gen, key=lambda c: int(info[c]["passages"])) if gen else (corpora[-1] if corpora else None)
    at100k = corpus_with(100000) or largest
    at1m = corpus_with(1000000)
    targets = []

    def target(name, where, measured, goal, met):
        targets.append(f"| {name} | {where} | {measured} | {goal} | {'**met**' if met else '**not met**' if met is not None else 'not measured'} |")

    if at100k:
        x50, m50 = cell(at100k, "xapian", "1", "p50"), cell(at100k, "medsearch-full", "1", "p50")
        ratio = m50 / x50 if x50 > 0 else float("nan")
        xc, mc = cell(at100k, "xapian", "1", "cpu_p50"), cell(at100k, "medsearch-full", "1", "cpu_p50")
        target("p50, every feature on, vs plain Xapian loop", at100k, f"{fmt(m50, 2)} ms / {fmt(x50, 2)} ms = {ratio:.2f}x "
               f"(CPU time: {fmt(mc, 2)} / {fmt(xc, 2)} ms = {mc / xc if xc else float('nan'):.2f}x)",
               "≤ 1.5x", None if math.isnan(ratio) else ratio <= 1.5)
        l99, m99 = cell(at100k, "lucene", "1", "p99"), cell(at100k, "medsearch-full", "1", "p99")
        lc, mc = cell(at100k, "lucene", "1", "cpu_p99"), cell(at100k, "medsearch-full", "1", "cpu_p99")
        target("p99, every feature on, vs Lucene", at100k, f"{fmt(m99, 1)} ms vs Lucene {fmt(l99, 1)} ms "
               f"(CPU time: {fmt(mc, 1)} vs {fmt(lc, 1)} ms)",
               "≤ Lucene's p99", None if math.isnan(l99) or math.isnan(m99) else m99 <= l99)
        lib, http = cell(at100k, "medsearch-full", "2", "qps"), http_best_qps(at100k)
        share = http / lib if lib > 0 else float("nan")
        target("HTTP searches/s (best of the wrk runs) vs library q/s (2 threads)", at100k,
               f"{fmt(http)} / {fmt(lib)} = {share * 100:.0f}%", "≥ 80%", None if math.isnan(share) else share >= 0.8)
        sat = saturation(at100k)
        h99 = cell(at100k, "http", sat, "p99") if sat else float("nan")
        most = max((int(t) for t in grid.get((at100k, "http"), {})), default=0)
        over = (f"; at {most} connections (overload: requests queue) {fmt(cell(at100k, 'http', str(most), 'p99'), 1)} ms"
                if sat and most > int(sat) else "")
        target("HTTP p99 at saturation (wrk)", at100k, f"{fmt(h99, 1)} ms at {sat or '–'} connections{over}", "≤ 50 ms",
               None if math.isnan(h99) else h99 <= 50)
    if at1m:
        m99 = cell(at1m, "medsearch-full", "1", "p99")
        target("p99 at 1M passages, every feature on", at1m, f"{fmt(m99, 1)} ms", "≤ 20 ms", None if math.isnan(m99) else m99 <= 20)
        rss = http_rss(at1m)
        target("server peak RSS at 1M passages", at1m, f"{fmt(rss)} MB", "≤ 1,024 MiB", None if math.isnan(rss) else rss <= 1024)
    else:
        note = f" (largest measured: {largest})" if largest else ""
        m99 = cell(largest, "medsearch-full", "1", "p99") if largest else float("nan")
        target("p99 at 1M passages, every feature on", f"1M not run{note}", f"{fmt(m99, 1)} ms at {largest}", "≤ 20 ms", None)
        rss = http_rss(largest) if largest else float("nan")
        target("server peak RSS at 1M passages", f"1M not run{note}", f"{fmt(rss)} MB at {largest}", "≤ 1,024 MiB", None)

    lines += ["## Targets of issue 9", "",
              "| Target | Corpus | Measured | Goal | Status |", "| --- | --- | --- | --- | --- |"] + targets + [""]

    lines += ["## Results", "",
              "Latency percentiles are from the 1-thread run (top 10, one query at a time); q/s from the 1- and",
              "2-thread runs. For HTTP, wrk ran with 1, 2, 4 and 8 connections (2 wrk threads from 2 on); the",
              "\"saturated\" row is the fewest connections that reach 95% of the best throughput measured, and its",
              "q/s sits in the 2-thread column; more connections than that only queue, each adding its share",
              "of latency (Little's law), as the other rows show. CPU p50/p99 are",
              "percentiles of each query's thread CPU time (what a query costs, which the shared machine's",
              "load inflates far less than the wall clock). Peak RSS is the largest",
              "of the process's runs (`/usr/bin/time -v`; the JVM's for Lucene; the server's VmHWM for HTTP).", ""]
    for c in corpora:
        i = info[c]
        lines += [f"### {c}: {int(i['passages']):,} passages", ""]
        if i.get("corpus_note"):
            lines += [i["corpus_note"], ""]
        lines += ["| Engine | p50 ms | p95 ms | p99 ms | CPU p50 ms | CPU p99 ms | q/s 1 thread | q/s 2 threads | p50 vs plain Xapian | p99 vs plain Xapian | CPU p50 vs plain Xapian | errors | peak RSS MB | index MB | queries timed |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        x50, x99, xc50 = cell(c, "xapian", "1", "p50"), cell(c, "xapian", "1", "p99"), cell(c, "xapian", "1", "cpu_p50")
        for e in ENGINE_ORDER:
            if (c, e) not in grid:
                continue
            rows = grid[(c, e)]
            sat = saturation(c) if e == "http" else None
            lat_t = (sat or "1") if e == "http" else "1"
            p50, p95, p99 = cell(c, e, lat_t, "p50"), cell(c, e, lat_t, "p95"), cell(c, e, lat_t, "p99")
            rss = max(num(r["rss_kb"]) for r in rows.values()) / 1024
            idx = max(num(r["index_bytes"]) for r in rows.values()) / 1e6
            errs = sum(int(num(r["errors"])) for r in rows.values() if not math.isnan(num(r["errors"])))
            timed = "/".join(r["n"] for _, r in sorted(rows.items()))
            name = SHORT[e] + (f" (wrk, saturated: {sat} connections)" if sat else "")
            c50, c99 = cell(c, e, lat_t, "cpu_p50"), cell(c, e, lat_t, "cpu_p99")
            lines.append(f"| {name} | {fmt(p50, 2)} | {fmt(p95, 2)} | {fmt(p99, 2)} | {fmt(c50, 2)} | {fmt(c99, 2)} | "
                         f"{fmt(cell(c, e, '1', 'qps'))} | {fmt(cell(c, e, lat_t if sat else '2', 'qps'))} | {fmt(p50 / x50 if x50 else float('nan'), 2)}x | "
                         f"{fmt(p99 / x99 if x99 else float('nan'), 2)}x | {fmt(c50 / xc50 if xc50 else float('nan'), 2)}x | "
                         f"{errs} | {fmt(rss)} | {fmt(idx)} | {timed} |")
            if e == "http":
                for t in sorted(rows, key=int):
                    if t == sat:
                        continue
                    what = "1 connection" if t == "1" else f"{t} connections"
                    col = f"{fmt(cell(c, e, t, 'qps'))} | " if t == "1" else f" | {fmt(cell(c, e, t, 'qps'))}"
                    lines.append(f"| {SHORT[e]} (wrk, {what}) | {fmt(cell(c, e, t, 'p50'), 2)} | {fmt(cell(c, e, t, 'p95'), 2)} | "
                                 f"{fmt(cell(c, e, t, 'p99'), 2)} | | | {col} | | | | | | | |")
        lines.append("")

    if sets:
        lines += ["### By query set (1 thread)", "",
                  "| Corpus | Engine | " + " | ".join(sorted({s["set"] for s in sets})) + " |",
                  "| --- | --- | " + " | ".join("---:" for _ in sorted({s["set"] for s in sets})) + " |"]
        names = sorted({s["set"] for s in sets})
        by = collections.defaultdict(dict)
        for s in sets:
            by[(s["corpus"], s["engine"])][s["set"]] = s
        for c in corpora:
            for e in ENGINE_ORDER:
                if (c, e) in by:
                    cells = []
                    for n in names:
                        s = by[(c, e)].get(n)
                        cells.append(f"{fmt(num(s['p50']), 2)} / {fmt(num(s['p99']), 1)}" if s else "–")
                    lines.append(f"| {c} | {SHORT[e]} | " + " | ".join(cells) + " |")
        lines += ["", "Cells: p50 / p99 in ms.", ""]

    # Plots: latency against corpus size, one line per engine.
    os.makedirs(plot_dir, exist_ok=True)
    data_dir = os.path.join(out, "plot-data")
    os.makedirs(data_dir, exist_ok=True)
    series = []
    for e in ENGINE_ORDER:
        if e == "http":
            continue
        pts = [(int(info[c]["passages"]), cell(c, e, "1", "p50"), cell(c, e, "1", "p99")) for c in corpora if (c, e) in grid]
        pts = [p for p in pts if not math.isnan(p[1])]
        if not pts:
            continue
        path = os.path.join(data_dir, f"{e}.dat")
        with open(path, "w") as f:
            for p in sorted(pts):
                f.write(f"{p[0]} {p[1]} {p[2]}\n")
        series.append((e, path))
    plots = []
    if series:
        for col, name in ((2, "p50"), (3, "p99")):
            png = os.path.join(plot_dir, f"perf-latency-{name}.png")
            script = [
                "set terminal pngcairo size 900,560 noenhanced" if has_pngcairo() else "set terminal png size 900,560 noenhanced",
                f"set output '{png}'",
                f"set title 'Query latency {name} (1 thread, top 10) against corpus size'",
                "set xlabel 'passages'", f"set ylabel '{name} latency, ms'",
                "set logscale xy", "set grid", "set key outside right", "set format x '%.0s%c'",
            ]
            plot = ", ".join(f"'{p}' using 1:{col} with linespoints title '{SHORT[e]}'" for e, p in series)
            script.append("plot " + plot)
            subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)
            plots.append((name, os.path.basename(png)))
        lines += ["## Latency against corpus size", ""]
        for name, png in plots:
            lines.append(f"![{name} latency against corpus size]({png})")
            lines.append("")

    commands = os.path.join(out, "commands.md")
    if os.path.exists(commands):
        lines += [open(commands, encoding="utf-8").read().rstrip(), ""]
    # Analysis written by hand below the marker survives a rerun (the measured part above is replaced).
    kept = ""
    if os.path.exists(markdown):
        old = open(markdown, encoding="utf-8").read()
        if KEEP_MARKER in old:
            kept = old[old.index(KEEP_MARKER):]
    with open(markdown, "w", encoding="utf-8") as f:
        f.write("\n".join(lines).rstrip() + "\n")
        if kept:
            f.write("\n" + kept.rstrip() + "\n")


def has_pngcairo():
    try:
        r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
        return "pngcairo" in (r.stdout + r.stderr)
    except OSError:
        return False


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "stats":
        stats(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
