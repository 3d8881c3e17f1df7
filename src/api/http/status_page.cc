#include "api/http/status_page.h"

#include <chrono>
#include <cstdio>

#include "util/prometheus.h"

namespace cycas::api::http {
namespace {

using ull = unsigned long long;

}  // namespace

void AppendStoreMetrics(const StatusPageInputs& in, std::string& out) {
  if (in.ram != nullptr) {
    out +=
        "# HELP cycas_tier_hits_total Reads answered by a storage tier.\n# TYPE "
        "cycas_tier_hits_total counter\n";
    AppendF(out, "cycas_tier_hits_total{tier=\"ram\"} %llu\n", static_cast<ull>(in.ram->hits()));
    if (in.engine != nullptr) {
      AppendF(out, "cycas_tier_hits_total{tier=\"engine\"} %llu\n",
              static_cast<ull>(in.engine->Stats().hits));
    }
    out +=
        "# HELP cycas_tier_misses_total Reads a storage tier could not answer.\n# TYPE "
        "cycas_tier_misses_total counter\n";
    AppendF(out, "cycas_tier_misses_total{tier=\"ram\"} %llu\n",
            static_cast<ull>(in.ram->misses()));
    if (in.engine != nullptr) {
      AppendF(out, "cycas_tier_misses_total{tier=\"engine\"} %llu\n",
              static_cast<ull>(in.engine->Stats().misses));
    }
    AppendMetric(out, "cycas_ram_bytes", "gauge", "Bytes held by the RAM tier.",
                 in.ram->bytes_used());
    AppendMetric(out, "cycas_ram_capacity_bytes", "gauge", "Capacity of the RAM tier.",
                 in.ram_capacity);
  }
  for (const TierReport* t : in.tier_reports) t->RenderPrometheus(out);
  if (in.engine == nullptr) return;
  engine::EngineStatsSnapshot s = in.engine->Stats();
  AppendMetric(out, "cycas_engine_objects", "gauge",
               "Directory entries in use (objects, fragments and records).",
               s.directory_entries_used);
  AppendMetric(out, "cycas_engine_directory_capacity", "gauge", "Directory entries available.",
               s.directory_capacity);
  AppendMetric(out, "cycas_engine_directory_bytes", "gauge", "Memory held by the directories.",
               s.directory_bytes);
  AppendMetric(out, "cycas_engine_ring_bytes", "gauge", "Bytes of the rings (store capacity).",
               s.ring_bytes);
  AppendMetric(out, "cycas_engine_docs_written_total", "counter", "Docs written.", s.docs_written);
  AppendMetric(out, "cycas_engine_written_bytes_total", "counter",
               "Bytes written to the store, padding included.", s.bytes_written);
  AppendMetric(out, "cycas_engine_batches_written_total", "counter", "Aggregated writes.",
               s.batches_written);
  AppendMetric(out, "cycas_engine_syncs_total", "counter", "fdatasync calls.", s.syncs);
  AppendF(out,
          "# HELP cycas_engine_sync_seconds_total Time spent in fdatasync.\n"
          "# TYPE cycas_engine_sync_seconds_total counter\ncycas_engine_sync_seconds_total %.6f\n",
          static_cast<double>(s.sync_micros) / 1e6);
  AppendMetric(out, "cycas_engine_converted_bytes_total", "counter",
               "Zeros written over never-written space of a preallocated store file ahead of "
               "the write cursor (engine.convert_ahead).",
               s.converted_bytes);
  AppendF(out,
          "# HELP cycas_engine_convert_seconds_total Time spent converting ahead (zeros and their "
          "sync, on the converter threads).\n"
          "# TYPE cycas_engine_convert_seconds_total counter\n"
          "cycas_engine_convert_seconds_total %.6f\n",
          static_cast<double>(s.convert_micros) / 1e6);
  AppendMetric(out, "cycas_engine_reads_total", "counter", "Object reads.", s.reads);
  AppendMetric(out, "cycas_engine_hits_total", "counter", "Lookups that found an object.", s.hits);
  AppendMetric(out, "cycas_engine_misses_total", "counter", "Lookups that found nothing.",
               s.misses);
  AppendMetric(out, "cycas_engine_validation_failures_total", "counter",
               "Docs that failed validation on read (served as misses).", s.validation_failures);
  AppendMetric(out, "cycas_engine_page_cache_stale_total", "counter",
               "Page-cached copies of a record that failed validation while the disk's copy was "
               "good (served from the disk).",
               s.page_cache_stale);
  AppendMetric(out, "cycas_engine_page_cache_rereads_total", "counter",
               "Records larger than engine.page_cache_reads read through the page cache because "
               "they were read recently (engine.page_cache_rereads).",
               s.page_cache_rereads);
  AppendMetric(out, "cycas_engine_evictions_total", "counter",
               "Directory entries removed ahead of the write cursor.", s.directory_evictions);
  AppendMetric(out, "cycas_engine_wraps_total", "counter", "Times a ring's write cursor wrapped.",
               s.wraps);
  AppendMetric(out, "cycas_engine_copy_forward_objects_total", "counter",
               "Objects copied forward to survive eviction.", s.copy_forward_objects);
  AppendMetric(out, "cycas_engine_copy_forward_bytes_total", "counter", "Bytes copied forward.",
               s.copy_forward_bytes);
  // A backlog here is write load still to come, and objects that may yet be evicted.
  AppendMetric(out, "cycas_engine_copy_forward_queued", "gauge",
               "Touched objects waiting to be copied forward.", s.copy_forward_queued);
  AppendMetric(out, "cycas_engine_io_errors_total", "counter", "I/O errors.", s.io_errors);
  AppendMetric(out, "cycas_engine_snapshots_total", "counter", "Directory snapshots written.",
               s.snapshots);
  AppendMetric(out, "cycas_engine_replayed_docs", "gauge", "Docs replayed at the last recovery.",
               s.replayed_docs);
  AppendF(out,
          "# HELP cycas_engine_recovery_seconds Time the last open spent recovering.\n"
          "# TYPE cycas_engine_recovery_seconds gauge\ncycas_engine_recovery_seconds %.6f\n",
          static_cast<double>(s.recovery_micros) / 1e6);
  out +=
      "# HELP cycas_stripe_cursor_sectors Write cursor of each stripe's ring.\n"
      "# TYPE cycas_stripe_cursor_sectors gauge\n";
  for (size_t i = 0; i < s.stripes.size(); i++) {
    AppendF(out, "cycas_stripe_cursor_sectors{stripe=\"%zu\"} %u\n", i, s.stripes[i].cursor);
  }
  out +=
      "# HELP cycas_stripe_ring_sectors Size of each stripe's ring.\n# TYPE "
      "cycas_stripe_ring_sectors gauge\n";
  for (size_t i = 0; i < s.stripes.size(); i++) {
    AppendF(out, "cycas_stripe_ring_sectors{stripe=\"%zu\"} %u\n", i, s.stripes[i].ring_sectors);
  }
  out +=
      "# HELP cycas_stripe_cycle Times each stripe's ring has wrapped.\n# TYPE cycas_stripe_cycle "
      "gauge\n";
  for (size_t i = 0; i < s.stripes.size(); i++) {
    AppendF(out, "cycas_stripe_cycle{stripe=\"%zu\"} %llu\n", i,
            static_cast<ull>(s.stripes[i].cycle));
  }
  out +=
      "# HELP cycas_stripe_directory_entries Directory entries in use per stripe.\n"
      "# TYPE cycas_stripe_directory_entries gauge\n";
  for (size_t i = 0; i < s.stripes.size(); i++) {
    AppendF(out, "cycas_stripe_directory_entries{stripe=\"%zu\"} %llu\n", i,
            static_cast<ull>(s.stripes[i].directory_entries_used));
  }
}

std::string BuildStatusJson(const StatusPageInputs& in) {
  std::string j;
  j.reserve(8192);
  const HttpMetrics& m = *in.metrics;
  double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - m.started()).count();
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  AppendF(j, "{\"now\":%.3f,\"uptime_seconds\":%.1f", now, uptime);
  uint64_t hits = m.hits_total(), misses = m.misses_total();
  AppendF(j,
          ",\"http\":{\"requests\":%llu,\"hits\":%llu,\"misses\":%llu,\"hit_ratio\":%.4f,"
          "\"errors\":%llu",
          static_cast<ull>(m.requests_total()), static_cast<ull>(hits), static_cast<ull>(misses),
          hits + misses > 0 ? static_cast<double>(hits) / static_cast<double>(hits + misses) : 0.0,
          static_cast<ull>(m.errors_total()));
  AppendF(j, ",\"bytes_in\":%llu,\"bytes_out\":%llu,\"connections_open\":%llu",
          static_cast<ull>(m.bytes_in()), static_cast<ull>(m.bytes_out()),
          static_cast<ull>(m.connections_open()));
  j += ",\"codes\":{";
  bool first = true;
  for (const auto& [code, n] : m.StatusCounts()) {
    AppendF(j, "%s\"%d\":%llu", first ? "" : ",", code, static_cast<ull>(n));
    first = false;
  }
  j += "},\"endpoints\":{";
  for (size_t slot = 0; slot < kEndpointSlots; slot++) {
    AppendF(j, "%s\"%s\":%llu", slot ? "," : "", std::string(EndpointSlotName(slot)).c_str(),
            static_cast<ull>(m.EndpointRequests(slot)));
  }
  j += "}}";
  if (in.ram != nullptr) {
    AppendF(j, ",\"ram\":{\"bytes_used\":%llu,\"capacity\":%llu,\"hits\":%llu,\"misses\":%llu}",
            static_cast<ull>(in.ram->bytes_used()), static_cast<ull>(in.ram_capacity),
            static_cast<ull>(in.ram->hits()), static_cast<ull>(in.ram->misses()));
  } else {
    j += ",\"ram\":null";
  }
  if (in.engine != nullptr) {
    engine::EngineStatsSnapshot s = in.engine->Stats();
    AppendF(j, ",\"engine\":{\"objects\":%llu,\"directory_capacity\":%llu,\"ring_bytes\":%llu",
            static_cast<ull>(s.directory_entries_used), static_cast<ull>(s.directory_capacity),
            static_cast<ull>(s.ring_bytes));
    AppendF(j, ",\"bytes_written\":%llu,\"docs_written\":%llu,\"hits\":%llu,\"misses\":%llu",
            static_cast<ull>(s.bytes_written), static_cast<ull>(s.docs_written),
            static_cast<ull>(s.hits), static_cast<ull>(s.misses));
    AppendF(j, ",\"validation_failures\":%llu,\"evictions\":%llu,\"wraps\":%llu,\"io_errors\":%llu",
            static_cast<ull>(s.validation_failures), static_cast<ull>(s.directory_evictions),
            static_cast<ull>(s.wraps), static_cast<ull>(s.io_errors));
    AppendF(j, ",\"copy_forward_objects\":%llu,\"recovery_seconds\":%.6f,\"stripes\":[",
            static_cast<ull>(s.copy_forward_objects), static_cast<double>(s.recovery_micros) / 1e6);
    for (size_t i = 0; i < s.stripes.size(); i++) {
      const auto& st = s.stripes[i];
      AppendF(
          j,
          "%s{\"cycle\":%llu,\"cursor\":%u,\"ring_sectors\":%u,\"entries\":%llu,\"capacity\":%llu}",
          i ? "," : "", static_cast<ull>(st.cycle), st.cursor, st.ring_sectors,
          static_cast<ull>(st.directory_entries_used), static_cast<ull>(st.directory_capacity));
    }
    j += "]}";
  } else {
    j += ",\"engine\":null";
  }
  j += ",\"tier_reports\":{";
  first = true;
  for (const TierReport* t : in.tier_reports) {
    AppendF(j, "%s\"%s\":", first ? "" : ",", std::string(t->report_name()).c_str());
    j += t->StatusJson();
    first = false;
  }
  j += "}";
  AppendF(j, ",\"grpc\":{\"calls\":%llu}", static_cast<ull>(in.grpc_calls));
  j += ",\"history\":[";
  first = true;
  for (const MetricsSample& h : m.History()) {
    AppendF(j, "%s{\"t\":%.3f,\"requests\":%llu,\"hits\":%llu,\"misses\":%llu,\"errors\":%llu",
            first ? "" : ",", h.unix_seconds, static_cast<ull>(h.requests),
            static_cast<ull>(h.hits), static_cast<ull>(h.misses), static_cast<ull>(h.errors));
    AppendF(j, ",\"bytes_in\":%llu,\"bytes_out\":%llu,\"grpc_calls\":%llu}",
            static_cast<ull>(h.bytes_in), static_cast<ull>(h.bytes_out),
            static_cast<ull>(h.grpc_calls));
    first = false;
  }
  j += "]}";
  return j;
}

namespace {

constexpr const char* kPageHead = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cycas status</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#101418;color:#dde3ea}
header{padding:12px 20px;background:#1a2129;border-bottom:1px solid #2b3440;display:flex;gap:24px;align-items:baseline}
header h1{font-size:18px;margin:0}
#updated{color:#8a96a3;font-size:12px}
main{padding:16px 20px;display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:14px}
section{background:#1a2129;border:1px solid #2b3440;border-radius:6px;padding:12px}
section h2{font-size:13px;text-transform:uppercase;letter-spacing:.05em;color:#8a96a3;margin:0 0 8px}
.big{font-size:26px;font-weight:600}
.kv{display:grid;grid-template-columns:auto auto;gap:2px 12px}
.kv span:nth-child(odd){color:#8a96a3}
.kv span:nth-child(even){text-align:right;font-variant-numeric:tabular-nums}
.rings{display:flex;flex-wrap:wrap;gap:10px}
.ring{text-align:center;font-size:11px;color:#8a96a3}
svg.chart{width:100%;height:70px;background:#141a20;border-radius:4px}
.bad{color:#ff7b72}.good{color:#7ee787}
</style></head><body>
<header><h1>cycas</h1><span id="summary"></span><span id="updated"></span></header>
<main>
<section><h2>Cache</h2><div class="big" id="hitratio">&ndash;</div><div>hit ratio (HTTP cache reads)</div>
<div class="kv" id="cache"></div></section>
<section><h2>Requests per second (<span style="color:#7ee787">HTTP</span>, <span style="color:#58a6ff">gRPC</span>)</h2><svg class="chart" id="c_rate" viewBox="0 0 300 70" preserveAspectRatio="none"></svg>
<div class="kv" id="rates"></div></section>
<section><h2>Hit ratio over time</h2><svg class="chart" id="c_hit" viewBox="0 0 300 70" preserveAspectRatio="none"></svg></section>
<section><h2>Throughput (MB/s in / out)</h2><svg class="chart" id="c_bytes" viewBox="0 0 300 70" preserveAspectRatio="none"></svg></section>
<section><h2>Tiers</h2><div class="kv" id="tiers"></div></section>
<section><h2>Errors and status codes</h2><div class="kv" id="codes"></div></section>
<section style="grid-column:1/-1"><h2>Stripes (ring, occupied region, write cursor)</h2><div class="rings" id="rings"></div></section>
</main>
<script id="initial" type="application/json">)HTML";

constexpr const char* kPageTail = R"HTML(</script>
<script>
"use strict";
const $ = id => document.getElementById(id);
function fmtBytes(n){const u=["B","KiB","MiB","GiB","TiB"];let i=0;while(n>=1024&&i<u.length-1){n/=1024;i++;}return (i?n.toFixed(1):n)+" "+u[i];}
function fmtNum(n){return n>=1e6?(n/1e6).toFixed(2)+"M":n>=1e4?(n/1e3).toFixed(1)+"k":String(Math.round(n*100)/100);}
function fmtDur(s){s=Math.floor(s);const d=Math.floor(s/86400),h=Math.floor(s%86400/3600),m=Math.floor(s%3600/60);return (d?d+"d ":"")+(h?h+"h ":"")+m+"m "+(s%60)+"s";}
function esc(s){return String(s).replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;"})[c]);}
function kv(el,rows){el.innerHTML=rows.map(([k,v,c])=>"<span>"+k+"</span><span"+(c?" class=\""+c+"\"":"")+">"+v+"</span>").join("");}
function chart(el,series,colors,maxHint){
  const W=300,H=70;let max=maxHint||0;for(const s of series)for(const v of s)max=Math.max(max,v);if(max<=0)max=1;
  let html="";series.forEach((s,k)=>{if(s.length<2)return;const pts=s.map((v,i)=>(i*W/(s.length-1)).toFixed(1)+","+(H-2-v/max*(H-6)).toFixed(1)).join(" ");
  html+="<polyline fill=\"none\" stroke=\""+colors[k]+"\" stroke-width=\"1.5\" points=\""+pts+"\"/>";});
  html+="<text x=\"4\" y=\"12\" fill=\"#8a96a3\" font-size=\"10\">max "+fmtNum(max)+"</text>";el.innerHTML=html;}
function ring(i,s){
  const r=34,c=40,frac=s.ring_sectors?s.cursor/s.ring_sectors:0,full=s.cycle>1;  /* cycles count from 1: the ring is full once it has wrapped */
  const a=2*Math.PI*frac-Math.PI/2,x=c+r*Math.cos(a),y=c+r*Math.sin(a);
  const occ=full?"<circle cx=\""+c+"\" cy=\""+c+"\" r=\""+r+"\" fill=\"none\" stroke=\"#3d7bd9\" stroke-width=\"9\"/>":
    (frac>0?"<path d=\"M "+c+" "+(c-r)+" A "+r+" "+r+" 0 "+(frac>0.5?1:0)+" 1 "+x.toFixed(2)+" "+y.toFixed(2)+"\" fill=\"none\" stroke=\"#3d7bd9\" stroke-width=\"9\"/>":"");
  const cur="<line x1=\""+c+"\" y1=\""+c+"\" x2=\""+(c+(r+6)*Math.cos(a)).toFixed(2)+"\" y2=\""+(c+(r+6)*Math.sin(a)).toFixed(2)+"\" stroke=\"#f0b429\" stroke-width=\"2\"/>";
  return "<div class=\"ring\"><svg width=\"80\" height=\"80\"><circle cx=\""+c+"\" cy=\""+c+"\" r=\""+r+"\" fill=\"none\" stroke=\"#2b3440\" stroke-width=\"9\"/>"+occ+cur+
    "</svg><br>stripe "+i+" &middot; cycle "+s.cycle+"<br>"+(100*frac).toFixed(1)+"% &middot; "+fmtNum(s.entries)+" entries</div>";}
function render(d){
  const h=d.http,e=d.engine,ram=d.ram;
  $("summary").textContent="up "+fmtDur(d.uptime_seconds)+" \u00b7 "+fmtNum(h.requests)+" HTTP requests \u00b7 "+fmtNum(d.grpc.calls)+" gRPC calls \u00b7 "+h.connections_open+" connections";
  $("updated").textContent="updated "+new Date(d.now*1000).toLocaleTimeString();
  $("hitratio").textContent=(h.hits+h.misses)?(100*h.hit_ratio).toFixed(1)+"%":"\u2013";
  kv($("cache"),[["hits",fmtNum(h.hits)],["misses",fmtNum(h.misses)],["objects",e?fmtNum(e.objects):"\u2013"],
    ["bytes received",fmtBytes(h.bytes_in)],["bytes sent",fmtBytes(h.bytes_out)]]);
  const hist=d.history.slice(),rate=[],grate=[],hit=[],bin=[],bout=[];
  hist.push({t:d.now,requests:h.requests,hits:h.hits,misses:h.misses,errors:h.errors,bytes_in:h.bytes_in,bytes_out:h.bytes_out,grpc_calls:d.grpc.calls});
  for(let i=1;i<hist.length;i++){const a=hist[i-1],b=hist[i],dt=Math.max(b.t-a.t,0.001);
    rate.push((b.requests-a.requests)/dt);grate.push((b.grpc_calls-a.grpc_calls)/dt);const lk=(b.hits-a.hits)+(b.misses-a.misses);hit.push(lk?(b.hits-a.hits)/lk:0);
    bin.push((b.bytes_in-a.bytes_in)/dt/1e6);bout.push((b.bytes_out-a.bytes_out)/dt/1e6);}
  chart($("c_rate"),[rate,grate],["#7ee787","#58a6ff"]);chart($("c_hit"),[hit],["#3d7bd9"],1);chart($("c_bytes"),[bin,bout],["#f0b429","#d2a8ff"]);
  const last=s=>s.length?s[s.length-1]:0,avg=s=>s.length?s.reduce((x,y)=>x+y,0)/s.length:0;
  const mins=Math.round((hist[hist.length-1].t-hist[0].t)/60);
  kv($("rates"),[["HTTP now",fmtNum(last(rate))+"/s"],["HTTP, last "+mins+" min avg",fmtNum(avg(rate))+"/s"],
    ["gRPC now",fmtNum(last(grate))+"/s"],["gRPC, last "+mins+" min avg",fmtNum(avg(grate))+"/s"]]);
  const tiers=[];
  if(ram)tiers.push(["RAM tier",fmtBytes(ram.bytes_used)+" / "+fmtBytes(ram.capacity)],["RAM hits / misses",fmtNum(ram.hits)+" / "+fmtNum(ram.misses)]);
  if(e){tiers.push(["disk ring",fmtBytes(e.ring_bytes)],["directory",fmtNum(e.objects)+" / "+fmtNum(e.directory_capacity)],
    ["written",fmtBytes(e.bytes_written)],["evictions",fmtNum(e.evictions)],["copied forward",fmtNum(e.copy_forward_objects)],
    ["validation failures",fmtNum(e.validation_failures),e.validation_failures?"bad":""],["I/O errors",fmtNum(e.io_errors),e.io_errors?"bad":""]);}
  for(const [name,t] of Object.entries(d.tier_reports||{})){
    for(const [k,v] of Object.entries(t)){
      if(v!==null&&typeof v==="object"){for(const [k2,v2] of Object.entries(v))tiers.push([esc(name+" "+k+" "+k2.replace(/_/g," ")),typeof v2==="number"?fmtNum(v2):esc(v2)]);}
      else tiers.push([esc(name+" "+k.replace(/_/g," ")),typeof v==="number"?fmtNum(v):esc(v),k==="state"?(v==="down"?"bad":v==="up"?"good":""):(k==="last_error"&&v?"bad":"")]);}}
  kv($("tiers"),tiers);
  kv($("codes"),[["errors (4xx/5xx, not 404)",fmtNum(h.errors),h.errors?"bad":"good"]].concat(Object.entries(h.codes).map(([c,n])=>[c,fmtNum(n),c>=500?"bad":""])));
  $("rings").innerHTML=e?e.stripes.map((s,i)=>ring(i,s)).join(""):"no engine";
}
render(JSON.parse($("initial").textContent));
async function poll(){try{const r=await fetch("/status.json",{cache:"no-store"});if(r.ok)render(await r.json());}catch(err){$("updated").textContent="unreachable";}}
setInterval(poll,2000);
</script></body></html>
)HTML";

}  // namespace

std::string BuildStatusHtml(const std::string& initial_json) {
  std::string out = kPageHead;
  // The JSON holds numbers, fixed keys and tier reports' strings, which escape '<'
  // (TierReport's contract), so it cannot close the script element.
  out += initial_json;
  out += kPageTail;
  return out;
}

}  // namespace cycas::api::http
