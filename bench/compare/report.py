#!/usr/bin/env python3
"""Result handling of bench/compare.sh.

  report.py limits --work DIR            machine limits from fio/iperf3/digest_bench
  report.py record --results FILE ...    one measured phase -> one JSON line
  report.py table --work DIR --out FILE  the Markdown report (median of runs)
"""
import argparse
import json
import re
import statistics
import sys

ROWS = [
    # key, label, unit, value field
    ("put4k", "4 KiB upload", "blobs/s", "ops_per_s"),
    ("get4k", "4 KiB download, hits", "blobs/s", "ops_per_s"),
    ("exists", "existence checks (HTTP: 1-byte ranged GET)", "digests/s", "ops_per_s"),
    ("put64m", "64 MiB upload", "MB/s", "mb_per_s"),
    ("get64m", "64 MiB download, hits", "MB/s", "mb_per_s"),
    ("mixed", "mixed build-like (90 % reads)", "ops/s", "ops_per_s"),
    ("disk4k", "4 KiB hits, working set > RAM tier", "blobs/s", "ops_per_s"),
]
SYSTEMS = ["cycas-zako", "cycas-reapi", "cycas-http", "nginx", "ats"]
CYCAS = SYSTEMS[:3]
PEERS = SYSTEMS[3:]
MB = 1e6


def cmd_limits(a):
    w = a.work
    lim = {}
    for rw in ("write", "read"):
        j = json.load(open(f"{w}/fio-{rw}.json"))
        lim[f"disk_{rw}"] = j["jobs"][0][rw]["bw_bytes"] / MB
    lim["loopback"] = max(
        json.load(open(f"{w}/iperf3-{i}.json"))["end"]["sum_received"]["bits_per_second"]
        for i in (1, 2, 3)) / 8 / MB
    j = json.load(open(f"{w}/digest.json"))
    for b in j["benchmarks"]:
        m = re.match(r"BM_HashOf/(\w+)/(\d+)", b["name"])
        if m:
            tag = "4k" if m.group(2) == "4096" else "16m"
            lim[f"{m.group(1)}_{tag}"] = b["bytes_per_second"] / MB
    json.dump(lim, open(f"{w}/limits.json", "w"), indent=1)
    for k, v in lim.items():
        print(f"  {k:14} {v:10.0f} MB/s", file=sys.stderr)


def cmd_record(a):
    text = open(a.file).read()
    r = {"row": a.row, "system": a.system, "run": a.run}
    if a.kind == "wrk":
        m = re.search(r"BENCHJSON (\{.*\})", text)
        t = re.search(r"CLIENTTIME ([\d.]+) ([\d.]+) ([\d.]+)", text)
        if not m:
            sys.exit(f"report.py: no result in {a.file}:\n{text}")
        j = json.loads(m.group(1))
        secs = j["duration_s"]
        errors = sum(v for k, v in j.items() if k.startswith("errors_"))
        moved = j["bytes_received"] + j["bytes_sent"]
        if a.row.startswith("put"):
            # Bodies are counted when sent; only completed uploads count here.
            moved = j["requests"] * j["size"]
        r.update(secs=secs, ops=j["requests"], ops_per_s=j["requests"] / secs,
                 mb_per_s=moved / secs / MB,
                 p50_ms=j["p50_ms"], p99_ms=j["p99_ms"], errors=errors,
                 exhausted=bool(j["exhausted"]))
        if t:
            real, user, sys_ = map(float, t.groups())
            r["client_cpu_pct"] = 100 * (user + sys_) / real
    else:
        j = json.loads(text.strip().splitlines()[-1])
        secs = j["secs"]
        # cycas-load ends the phase when its new blobs run out, so its
        # figures stay valid ("exhausted" there only means a shorter phase).
        r.update(secs=secs, ops=j["items"], ops_per_s=j["items_per_s"], mb_per_s=j["mb_per_s"],
                 p50_ms=j["p50_ms"], p99_ms=j["p99_ms"], errors=0, exhausted=False,
                 ended_early=j["exhausted"], client_cpu_pct=j["client_cpu_pct"],
                 rpcs_per_s=j["ops_per_s"])
    r["server_cpu_pct"] = 100 * a.server_cpu / secs if secs else 0
    # A second figure on a shared machine: CPU is less disturbed by neighbours than time.
    r["server_cpu_us_per_op"] = 1e6 * a.server_cpu / r["ops"] if r["ops"] else 0
    if r["errors"]:
        print(f"WARNING: {a.system} {a.row} run {a.run}: {r['errors']} failed requests "
              f"(see {a.file})", file=sys.stderr)
    if r["exhausted"]:
        print(f"WARNING: {a.system} {a.row} run {a.run}: ran out of new blobs", file=sys.stderr)
    if r["ops"] == 0:
        r["none_completed"] = True
        print(f"WARNING: {a.system} {a.row} run {a.run}: no operation completed in {secs:.1f} s",
              file=sys.stderr)
    with open(a.results, "a") as f:
        f.write(json.dumps(r) + "\n")
    print(f"  {a.system:12} {a.row:7} run {a.run}: {r['ops_per_s']:10.0f} /s "
          f"{r['mb_per_s']:8.1f} MB/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  "
          f"client CPU {r.get('client_cpu_pct', 0):.0f} %  server CPU {r['server_cpu_pct']:.0f} % "
          f"({r['server_cpu_us_per_op']:.0f} µs/op)",
          file=sys.stderr)


def fmt(v):
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def bound(row, system, lim):
    """The machine limit (name, MB/s) that bounds a cycas front-end's row."""
    fn = "blake3" if system == "cycas-zako" else "sha256"
    if not all(k in lim for k in ("disk_write", "disk_read", "loopback", f"{fn}_4k", f"{fn}_16m")):
        return None  # --no-limits: nothing to compare against
    cands = {
        "put4k": [("disk write", lim["disk_write"]), ("loopback TCP", lim["loopback"]),
                  (f"{fn.upper()} 4 KiB, 1 core", lim[f"{fn}_4k"])],
        "get4k": [("loopback TCP", lim["loopback"])],
        "put64m": [("disk write", lim["disk_write"]), ("loopback TCP", lim["loopback"]),
                   (f"{fn.upper()} 16 MiB, 1 core", lim[f"{fn}_16m"])],
        "get64m": [("disk read", lim["disk_read"]), ("loopback TCP", lim["loopback"])],
        "mixed": [("loopback TCP", lim["loopback"])],
        "disk4k": [("disk read (sequential)", lim["disk_read"]), ("loopback TCP", lim["loopback"])],
    }.get(row)
    return min(cands, key=lambda c: c[1]) if cands else None


def cmd_table(a):
    w = a.work
    ctx = dict(line.rstrip("\n").split("=", 1) for line in open(f"{w}/context") if "=" in line)
    try:
        lim = json.load(open(f"{w}/limits.json"))
    except FileNotFoundError:  # compare.sh --no-limits
        lim = {}
    recs = [json.loads(line) for line in open(f"{w}/results.jsonl")]
    cell = {}
    for r in recs:
        cell.setdefault((r["row"], r["system"]), []).append(r)

    def stat(row, system, field):
        rs = cell.get((row, system))
        if not rs:
            return None
        vs = [r.get(field, 0) for r in rs]
        return statistics.median(vs), min(vs), max(vs), rs

    out = []
    p = out.append
    p(f"# cycas compare: {ctx['date']}")
    p("")
    p(f"Machine: {ctx['cpu']}, {ctx['cores']} cores, {ctx['memory']}, kernel {ctx['kernel']}, "
      f"store disk {ctx['disk']}. Load average {ctx['loadavg_start']} at the start, "
      f"{ctx.get('loadavg_end', '?')} at the end (other builds shared the cores). "
      f"Peers: nginx {ctx['nginx']}, {ctx['trafficserver_version'] or 'Traffic Server'}; "
      f"load: wrk {ctx['wrk']} (HTTP), cycas-load (gRPC). cycas commit {ctx['commit']}. "
      f"{ctx['runs']} run(s) of {ctx['seconds']} s per phase, "
      f"{ctx.get('small_conns', '32')} connections for the 4 KiB and mixed rows"
      f"{' (--quick)' if ctx['quick'] == '1' else ''}; whole run {ctx.get('elapsed_s', '?')} s.")
    p("")
    p("## Machine limits (measured in this run)")
    p("")
    if not lim:
        p("Not measured (--no-limits).")
        p("")
    p("| limit | MB/s |")
    p("|---|---:|")
    names = {"disk_write": "disk, sequential O_DIRECT write (fio, 1 MiB)",
             "disk_read": "disk, sequential O_DIRECT read (fio, 1 MiB)",
             "loopback": "loopback TCP (iperf3, 1 stream, best of 3)",
             "sha256_4k": "SHA-256, 4 KiB blobs, 1 core", "sha256_16m": "SHA-256, 16 MiB, 1 core",
             "blake3_4k": "BLAKE3, 4 KiB blobs, 1 core", "blake3_16m": "BLAKE3, 16 MiB, 1 core"}
    for k, label in names.items():
        if k in lim:
            p(f"| {label} | {fmt(lim[k])} |")
    p("")
    p("## Throughput: median (min–max) of the runs")
    p("")
    p("| workload | unit | " + " | ".join(SYSTEMS) + " | cycas-http ÷ best peer | best cycas ÷ best peer |")
    p("|---|---|" + "---:|" * (len(SYSTEMS) + 2))
    for key, label, unit, field in ROWS:
        cells, med = [], {}
        for s in SYSTEMS:
            st = stat(key, s, field)
            if st is None:
                cells.append("—")
                continue
            m, lo, hi, rs = st
            med[s] = m
            flag = ""
            if any(r["errors"] for r in rs):
                flag += " ⚠errors"
            if any(r["exhausted"] for r in rs):
                flag += " ⚠reused"
            if any(r.get("none_completed") for r in rs):
                flag += " ⚠none completed"
            cells.append(f"{fmt(m)} ({fmt(lo)}–{fmt(hi)}){flag}" if len(rs) > 1 else fmt(m) + flag)
        peers = [med[s] for s in PEERS if s in med]
        best_peer = max(peers) if peers else None
        cyc = [med[s] for s in CYCAS if s in med]
        r1 = f"{med['cycas-http'] / best_peer:.2f}" if best_peer and "cycas-http" in med else "—"
        r2 = f"{max(cyc) / best_peer:.2f}" if best_peer and cyc else "—"
        p(f"| {label} | {unit} | " + " | ".join(cells) + f" | {r1} | {r2} |")
    p("")
    p("## cycas as a fraction of the machine limit that bounds it")
    p("")
    p("Bytes moved per second (payload for gRPC, payload plus headers for HTTP) over the "
      "smallest limit that applies. Existence checks move no payload and have no such bound.")
    p("")
    p("| workload | " + " | ".join(CYCAS) + " |")
    p("|---|" + "---|" * len(CYCAS))
    for key, label, unit, field in ROWS:
        cells = []
        for s in CYCAS:
            st = stat(key, s, "mb_per_s")
            b = bound(key, s, lim)
            if st is None or b is None:
                cells.append("—")
                continue
            cells.append(f"{fmt(st[0])} MB/s = {100 * st[0] / b[1]:.0f} % of {b[0]} ({fmt(b[1])})")
        p(f"| {label} | " + " | ".join(cells) + " |")
    p("")
    p("## Latency per operation: median p50 / p99 (ms)")
    p("")
    p("An operation is one HTTP request, one gRPC call (a BatchUpdateBlobs/BatchReadBlobs call "
      "carries 32 blobs, a FindMissingBlobs/NegotiateBlobs call 10,000 digests) or one "
      "ByteStream/Transport transfer.")
    p("")
    def per_system_table(cell):
        """A table with a row per workload and a column per system; cell(stat of a field) -> text."""
        p("| workload | " + " | ".join(SYSTEMS) + " |")
        p("|---|" + "---|" * len(SYSTEMS))
        for key, label, unit, field in ROWS:
            p(f"| {label} | " + " | ".join(cell(lambda f, k=key, s=s: stat(k, s, f))
                                           for s in SYSTEMS) + " |")
        p("")

    def latency(get):
        a50, a99 = get("p50_ms"), get("p99_ms")
        return "—" if a50 is None else f"{fmt(a50[0])} / {fmt(a99[0])}"

    def cpu(get):
        c, sv = get("client_cpu_pct"), get("server_cpu_pct")
        return "—" if c is None else f"{c[0]:.0f} / {sv[0]:.0f}"

    def cpu_per_op(get):
        c = get("server_cpu_us_per_op")
        return "—" if c is None else f"{c[0]:.0f}"

    per_system_table(latency)
    p("## CPU: median client % / server % of one core (2 cores = 200 %)")
    p("")
    per_system_table(cpu)
    p("## Server CPU per operation: median µs")
    p("")
    per_system_table(cpu_per_op)
    p("## REAPI vs zako on the same server (issue 5)")
    p("")
    p("zako names blobs by BLAKE3 only. The protocol ratio compares REAPI with the same hash "
      "(cycas-reapi-b3, `--digest-function blake3`); REAPI with SHA-256, as Bazel sends it, "
      "is shown beside it and also pays SHA-256's lower speed.")
    p("")
    p("| REAPI | zako | REAPI, BLAKE3 | REAPI, SHA-256 | zako | REAPI ÷ zako, same hash "
      "| REAPI SHA-256 ÷ zako |")
    p("|---|---|---:|---:|---:|---:|---:|")
    pairs = [("exists", "FindMissingBlobs, 10k digests", "NegotiateBlobs, 10k digests", "digests/s", "ops_per_s"),
             ("put4k", "BatchUpdateBlobs, 4 KiB", "Transport upload, 4 KiB", "blobs/s", "ops_per_s"),
             ("get4k", "BatchReadBlobs, 4 KiB", "Transport download, 4 KiB", "blobs/s", "ops_per_s"),
             ("put64m", "ByteStream Write, 64 MiB", "Transport upload, 64 MiB", "MB/s", "mb_per_s"),
             ("get64m", "ByteStream Read, 64 MiB", "Transport download, 64 MiB", "MB/s", "mb_per_s")]
    for key, rl, zl, unit, field in pairs:
        z = stat(key, "cycas-zako", field)
        if z is None:
            continue
        cells, ratios = [], []
        for system in ("cycas-reapi-b3", "cycas-reapi"):
            r = stat(key, system, field)
            cells.append("—" if r is None else f"{fmt(r[0])} {unit}")
            if r is None:
                ratios.append("—")
                continue
            ratio = r[0] / z[0]
            mark = " (REAPI > 10 % slower)" if ratio < 0.9 and system == "cycas-reapi-b3" else ""
            ratios.append(f"{ratio:.2f}{mark}")
        p(f"| {rl} | {zl} | {cells[0]} | {cells[1]} | {fmt(z[0])} {unit} | {ratios[0]} | {ratios[1]} |")
    p("")
    warn = []
    for r in recs:
        what = []
        if r["errors"]:
            what.append(f"{r['errors']} failed requests")
        if r["exhausted"]:
            what.append("ran out of new blobs (later uploads repeated blobs)")
        if r.get("none_completed"):
            what.append(f"no request completed within the {r['secs']:.1f} s phase (counted as 0)")
        if what:
            warn.append(f"{r['system']} {r['row']} run {r['run']}: " + ", ".join(what))
    if warn:
        p("Warnings:")
        p("")
        for w_ in warn:
            p(f"* {w_}")
        p("")
    text = "\n".join(out) + "\n"
    open(a.out, "w").write(text)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("limits")
    s.add_argument("--work", required=True)
    s = sub.add_parser("record")
    for f in ("results", "row", "system", "kind", "file"):
        s.add_argument("--" + f, required=True)
    s.add_argument("--run", type=int, required=True)
    s.add_argument("--server-cpu", type=float, required=True)
    s.add_argument("--extra")
    s = sub.add_parser("table")
    s.add_argument("--work", required=True)
    s.add_argument("--out", required=True)
    a = ap.parse_args()
    {"limits": cmd_limits, "record": cmd_record, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
