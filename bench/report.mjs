// Turns the JSON lines of one bench/run.sh run into medians, Switchboard/peer
// ratios, bench/results/latest.json, latest.md and gnuplot SVG bar charts.
//   node report.mjs RESULTS.jsonl OUTDIR 'META-JSON'
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const [rawPath, outArg, metaJson] = process.argv.slice(2);
const outDir = path.resolve(outArg);
const meta = { ...JSON.parse(metaJson || '{}'), date: new Date().toISOString() };
const runs = readFileSync(rawPath, 'utf8').split('\n').filter(Boolean).map((l) => {
  try { return JSON.parse(l); } catch { return { ok: false, error: 'unparsable line' }; }
});

const NAMES = {
  'sb-echo': 'Switchboard (sio_echo)', 'sb-main': 'Switchboard (switchboard)', 'sb-ws': 'Switchboard (ws_echo)',
  'sio-echo': 'socket.io 4 (ws engine)', 'sio-chat': 'socket.io 4 (ws engine)', 'ws-raw': 'ws 8 (raw)',
  'sio-uws-echo': 'socket.io 4 on uWS.js', 'sio-uws-chat': 'socket.io 4 on uWS.js', 'uws-raw': 'uWS.js (raw)',
};
// Chart slot of each server: Switchboard, the `ws`-based peer, the uWS-based peer;
// slots 3 and 4 are the raw pub/sub baselines merged into the Socket.IO
// fanout and burst cases (see mergeRawPubSub).
const SLOT = { 'sb-echo': 0, 'sb-main': 0, 'sb-ws': 0, 'sio-echo': 1, 'sio-chat': 1, 'ws-raw': 1,
  'sio-uws-echo': 2, 'sio-uws-chat': 2, 'uws-raw': 2 };
const SLOT_NAMES = ['Switchboard', 'Node.js: socket.io / ws', 'Node.js: uWebSockets.js',
  'Node.js: raw uWS.js pub/sub', 'Node.js: raw ws pub/sub'];
const SLOT_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#98df8a', '#ffbb78'];
// A raw pub/sub server shown in a Socket.IO case: its column name and chart slot.
const MERGED = { 'uws-raw': { name: 'raw uWS.js', slot: 3 }, 'ws-raw': { name: 'raw ws 8', slot: 4 } };
const slotOf = (c, sid) => (c.servers[sid]?.from_case ? MERGED[sid]?.slot : SLOT[sid]);

// Metrics per mode: [key in the loadgen JSON, label, higher is better?]
const METRICS = {
  echo: [['msgs_per_s', 'msgs/s', true], ['p50_us', 'p50 µs', false], ['p99_us', 'p99 µs', false],
    ['p999_us', 'p99.9 µs', false], ['cpu_ms_per_1k', 'server CPU ms / 1k msgs', false]],
  fanout: [['peak_deliveries_per_s', 'peak deliveries/s', true], ['p99_us', 'p99 µs at half peak', false],
    ['cpu_ms_per_1k', 'server CPU ms / 1k deliveries (peak)', false],
    ['half_cpu_ms_per_1k', 'server CPU ms / 1k deliveries (half peak)', false]],
  fixedrate: [['peak_deliveries_per_s', 'deliveries/s (fixed offered load)', true], ['p50_us', 'p50 µs', false],
    ['p99_us', 'p99 µs', false], ['p999_us', 'p99.9 µs', false],
    ['cpu_ms_per_1k', 'server CPU ms / 1k deliveries', false], ['server_cpu_pct', 'server CPU %', false]],
  burst: [['peak_deliveries_per_s', 'deliveries/s', true],
    ['burst_pct_of_fanout', 'burst % of own fanout peak (≥ 90 % = no cliff)', true],
    ['p99_us', 'p99 µs', false], ['cpu_ms_per_1k', 'server CPU ms / 1k deliveries', false]],
  connect: [['msgs_per_s', 'handshakes/s', true], ['p50_us', 'p50 µs', false], ['p99_us', 'p99 µs', false],
    ['cpu_ms_per_1k', 'server CPU ms / 1k handshakes', false]],
  idle: [['kb_per_conn_marginal', 'server KiB / connection past a 1 % warm-up', false],
    ['kb_per_conn', 'server KiB / connection, from a fresh start', false],
    ['rss_after_kb', 'server RSS KiB, all connected', false],
    ['server_cpu_ms', 'server CPU ms while idle', false]],
};

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

// Group runs by case, then by server.
const cases = new Map();
for (const r of runs) {
  if (!r.case || !r.server) continue;
  if (!cases.has(r.case)) cases.set(r.case, new Map());
  const byServer = cases.get(r.case);
  if (!byServer.has(r.server)) byServer.set(r.server, []);
  byServer.get(r.server).push(r);
}

const out = { meta, cases: [] };
for (const [name, byServer] of cases) {
  const mode = name.split('-')[0];
  const entry = { case: name, mode, servers: {} };
  for (const [sid, rs] of byServer) {
    // Runs started while other work kept the machine busy are dropped from
    // the median when a quiet run of the same case and server exists.
    const clean = rs.filter((r) => r.ok);
    const quiet = clean.filter((r) => !(Number(r.busy_pct) > 20));
    const good = quiet.length ? quiet : clean;
    const s = { name: NAMES[sid] || sid, runs: rs.length, ok_runs: clean.length, median: {} };
    for (const [key] of METRICS[mode] || []) s.median[key] = median(good.map((r) => r[key]));
    for (const k of ['errors', 'lost', 'undelivered', 'unanswered', 'dup', 'out_of_order', 'bad', 'handshake_failures', 'closed_by_server']) {
      s[k] = rs.reduce((a, r) => a + (Number(r[k]) || 0), 0);
    }
    s.failures = rs.filter((r) => !r.ok).map((r) => r.aborted || r.error || 'correctness counters not clean');
    s.busy_pct_max = Math.max(0, ...good.map((r) => Number(r.busy_pct) || 0));
    s.median_of = good.length;
    entry.servers[sid] = s;
  }
  out.cases.push(entry);
}

// Burst against the same server's steady fanout peak at the same size and
// protocol in this run (median burst deliveries/s ÷ median fanout peak).
for (const c of out.cases.filter((x) => x.mode === 'burst')) {
  const f = out.cases.find((x) => x.case === c.case.replace('burst', 'fanout'));
  for (const [sid, s] of Object.entries(c.servers)) {
    const peak = f?.servers[sid]?.median.peak_deliveries_per_s;
    s.median.burst_vs_fanout = peak && s.median.peak_deliveries_per_s ? s.median.peak_deliveries_per_s / peak : null;
    s.median.burst_pct_of_fanout = s.median.burst_vs_fanout == null ? null : 100 * s.median.burst_vs_fanout;
  }
}

// The raw pub/sub peers (fanout-ws-N, burst-ws-N: raw.mjs over raw WebSocket)
// are the baseline of the Socket.IO fanout and burst cases: each of their
// servers is copied into fanout-sio-N / burst-sio-N as one more column (with
// from_case naming where it was measured), so the ratios below include
// Switchboard ÷ raw uWS.js. The ws case stays in the JSON (merged_into) and
// is not drawn again.
function mergeRawPubSub() {
  for (const w of out.cases.filter((x) => /^(fanout|burst)-ws-/.test(x.case))) {
    const c = out.cases.find((x) => x.case === w.case.replace('-ws-', '-sio-'));
    if (!c) continue;
    w.merged_into = c.case;
    for (const [sid, s] of Object.entries(w.servers)) {
      if (c.servers[sid]) continue;
      c.servers[sid] = { ...s, name: MERGED[sid]?.name || s.name, from_case: w.case };
    }
  }
}
mergeRawPubSub();

// Ratios Switchboard / peer for every metric.
for (const c of out.cases) {
  const sbId = Object.keys(c.servers).find((s) => s.startsWith('sb-'));
  c.ratios = {};
  if (!sbId) continue;
  for (const [sid, s] of Object.entries(c.servers)) {
    if (sid === sbId) continue;
    c.ratios[sid] = {};
    for (const [key] of METRICS[c.mode] || []) {
      const a = c.servers[sbId].median[key]; const b = s.median[key];
      c.ratios[sid][key] = a != null && b ? a / b : null;
    }
  }
}

// ---- Markdown ----------------------------------------------------------------
const fmt = (v) => {
  if (v == null) return '—';
  if (Math.abs(v) >= 100000) return `${(v / 1e6).toFixed(2)}M`;
  if (Math.abs(v) >= 10000) return `${(v / 1e3).toFixed(1)}k`;
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(Math.abs(v) >= 1 ? 2 : 3);
};
const fmtRatio = (r, higher) => {
  if (r == null) return '—';
  const better = higher ? r > 1 : r < 1;
  const mark = Math.abs(r - 1) < 0.02 ? '=' : better ? '✓' : '✗';
  return `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}× ${mark}`;
};

const md = [];
md.push('# Switchboard side-by-side benchmark');
md.push('');
md.push(`${meta.date} · ${meta.quick ? 'quick matrix' : 'full matrix'} · median of ${meta.repeat} run(s) each · payload ${meta.payload} B · `
  + `${meta.pinned ? 'server pinned to CPU 0, load generator to CPU 1' : 'not pinned'} · scheduling ${meta.sched} · Node ${meta.node}`);
md.push('');
md.push('Ratio = Switchboard ÷ peer; ✓ marks where Switchboard is better (higher throughput, or lower latency / CPU / memory), = within 2%. '
  + 'Correctness = runs whose counters were clean (no errors, no loss, no duplicates, in order) out of runs.');
md.push('');
for (const c of out.cases) {
  if (c.merged_into) continue; // shown as columns of c.merged_into
  const sids = Object.keys(c.servers).sort((a, b) => (slotOf(c, a) ?? 9) - (slotOf(c, b) ?? 9));
  const sbId = sids.find((s) => s.startsWith('sb-'));
  const peers = sbId ? sids.filter((s) => s !== sbId) : []; // ratio columns need a Switchboard column
  md.push(`## ${c.case}`);
  md.push('');
  const row = (cells) => `| ${cells.join(' | ')} |`;
  md.push(row(['metric', ...sids.map((s) => c.servers[s].name), ...peers.map((p) => `ratio vs ${c.servers[p].name}`)]));
  md.push(row(['---', ...sids.map(() => '---:'), ...peers.map(() => '---:')]).replace(/ /g, ''));
  for (const [key, label, higher] of METRICS[c.mode] || []) {
    md.push(row([label, ...sids.map((s) => fmt(c.servers[s].median[key])),
      ...peers.map((p) => fmtRatio(c.ratios[p]?.[key], higher))]));
  }
  md.push(row(['correctness (clean runs / runs)', ...sids.map((s) => `${c.servers[s].ok_runs}/${c.servers[s].runs}`),
    ...peers.map(() => '')]));
  md.push('');
  for (const s of sids) {
    const v = c.servers[s];
    if (v.failures.length) md.push(`- ${v.name}: ${v.failures.length} run(s) not clean: ${[...new Set(v.failures)].join('; ')} (errors ${v.errors}, lost ${v.lost}, undelivered ${v.undelivered}, dup ${v.dup}${v.unanswered ? `, unanswered ${v.unanswered}` : ''})`);
    if (v.busy_pct_max > 20) md.push(`- ${v.name}: every clean run started while other work kept the machine ${v.busy_pct_max}% busy; not comparable`);
  }
  const raw = sids.filter((s) => c.servers[s].from_case);
  if (raw.length) {
    md.push(`- ${raw.map((s) => c.servers[s].name).join(', ')}: the raw pub/sub peer (bench/peers/raw.mjs) over raw WebSocket, `
      + `measured as ${[...new Set(raw.map((s) => c.servers[s].from_case))].join(', ')} with the same ${c.mode === 'burst' ? 'bursts' : 'ramp'}; `
      + `${raw.length > 1 ? 'their ratio columns are' : 'its ratio column is'} Switchboard (over Socket.IO) ÷ ${raw.length > 1 ? 'that peer' : c.servers[raw[0]].name}.`);
  }
  if (c.mode === 'burst') {
    const pct = sids.map((s) => [c.servers[s].name, c.servers[s].median.burst_pct_of_fanout]).filter(([, v]) => v != null);
    if (pct.length) {
      md.push(`- no cliff under bursts (≥ 90 % of its own fanout peak in this run): ${pct.map(([n, v]) => `${n} ${v >= 90 ? 'yes' : 'no'} (${v.toFixed(0)} %)`).join(', ')}`);
    }
  }
  md.push('');
}
writeFileSync(path.join(outDir, 'latest.md'), md.join('\n'));
writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(out, null, 2) + '\n');

// ---- charts -----------------------------------------------------------------
const charts = [
  { file: 'throughput', title: 'Throughput (msgs, deliveries or handshakes per second; log scale)', log: true,
    modes: { echo: 'msgs_per_s', fanout: 'peak_deliveries_per_s', burst: 'peak_deliveries_per_s', connect: 'msgs_per_s' } },
  { file: 'latency', title: 'p99 latency, µs (echo; fanout at the same fixed load; connect handshake; log scale)', log: true,
    modes: { echo: 'p99_us', fixedrate: 'p99_us', connect: 'p99_us' } },
  { file: 'cpu', title: 'Server CPU ms per 1,000 messages / deliveries / handshakes (log scale)', log: true,
    modes: { echo: 'cpu_ms_per_1k', fanout: 'cpu_ms_per_1k', fixedrate: 'cpu_ms_per_1k', burst: 'cpu_ms_per_1k', connect: 'cpu_ms_per_1k' } },
  { file: 'memory', title: 'Server memory per idle connection (past a 1 % warm-up), KiB', log: false, modes: { idle: 'kb_per_conn_marginal' } },
];
const haveGnuplot = spawnSync('gnuplot', ['--version']).status === 0;
for (const ch of charts) {
  const rows = [];
  for (const c of out.cases) {
    const key = ch.modes[c.mode];
    if (!key || c.merged_into) continue;
    const vals = SLOT_NAMES.map(() => 'NaN');
    for (const [sid, s] of Object.entries(c.servers)) {
      const v = s.median[key]; const slot = slotOf(c, sid);
      if (v != null && slot != null && (!ch.log || v > 0)) vals[slot] = String(v);
    }
    rows.push({ label: c.case, vals });
  }
  // Only the slots with a value somewhere get a bar colour and a key entry.
  const used = SLOT_NAMES.map((_, i) => i).filter((i) => rows.some((r) => r.vals[i] !== 'NaN'));
  if (!used.length) continue; // nothing to draw
  const dat = path.join(outDir, `${ch.file}.dat`);
  writeFileSync(dat, `# case ${used.map((i) => SLOT_NAMES[i]).join(' | ')}\n`
    + `${rows.map((r) => `"${r.label}" ${used.map((i) => r.vals[i]).join(' ')}`).join('\n')}\n`);
  const gp = [
    `set terminal svg size ${Math.max(640, 90 * rows.length + 200)},440 dynamic font "sans,11"`,
    `set output "${path.join(outDir, `${ch.file}.svg`)}"`,
    `set title "${ch.title}"`,
    'set style data histograms', 'set style histogram clustered gap 1', 'set style fill solid 0.85 border -1',
    'set boxwidth 0.9', 'set xtics rotate by -30 scale 0', 'set key top left', 'set grid ytics',
    ch.log ? 'set logscale y' : 'set yrange [0:*]',
    `plot ${used.map((slot, k) => `${k ? '""' : `"${dat}"`} using ${k + 2}${k ? '' : ':xtic(1)'} `
      + `title "${SLOT_NAMES[slot]}" lc rgb "${SLOT_COLORS[slot]}"`).join(', ')}`,
  ].join('\n');
  writeFileSync(path.join(outDir, `${ch.file}.gp`), gp + '\n');
  if (haveGnuplot) {
    const r = spawnSync('gnuplot', [path.join(outDir, `${ch.file}.gp`)], { encoding: 'utf8' });
    if (r.status !== 0) process.stderr.write(`gnuplot ${ch.file}: ${r.stderr}\n`);
  }
}
if (!haveGnuplot) process.stderr.write('report: gnuplot missing, charts not drawn (the .gp and .dat files are there)\n');
