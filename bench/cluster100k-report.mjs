// Markdown for bench/cluster100k.sh: the 100k runs (cluster-100k.jsonl,
// loadgen --mode bcast) and the fanout runs of bench/cluster.sh on the same
// number of processes, with the issue's targets checked.
// Usage: node cluster100k-report.mjs RUNS.jsonl FANOUT.jsonl STARTED LOAD_START LOAD_END
import { existsSync, readFileSync } from 'node:fs';

const [runsPath, fanoutPath, started, loadStart, loadEnd] = process.argv.slice(2);
const lines = (p) => (p && existsSync(p) ? readFileSync(p, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
const runs = lines(runsPath);
const fanout = lines(fanoutPath);
const num = (v, d = 0) => (typeof v === 'number' && v >= 0 ? v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : '—');
const name = { sb: 'Switchboard', node: 'Node.js socket.io + redis-adapter' };
const out = [];
const say = (...l) => out.push(...l);

say('# Cluster at 100,000 connections (bench/cluster100k.sh)', '',
  `Run started ${started}; 2 cores shared with other work: load average ${loadStart} at the start, ${loadEnd} at the end (1, 5, 15 min).`, '');

say('## Connections held: memory and connect', '',
  '| server | at (UTC) | processes | connections joined / asked | connect wall s | connect server CPU s (+ tail until quiet) | RSS before → after idle, MiB (all processes) | idle KiB per connection | idle server CPU % of a core | open files per process | Redis CPU s (whole run) | load avg at start | ok |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of runs) {
  const note = r.memory_capped ? ' (stopped at the memory bound)' : '';
  const idlePct = r.idle_s > 0 && r.idle_cpu_ms >= 0 ? r.idle_cpu_ms / r.idle_s / 10 : -1;
  const tail = r.settle_cpu_ms >= 0 ? ` (+ ${num(r.settle_cpu_ms / 1000, 1)} in ${num(r.settle_s, 0)} s)` : '';
  say(`| ${name[r.kind] ?? r.kind} | ${r.at ?? '—'} | ${r.kind === 'node' ? `${(r.servers ?? 1) - 1} + primary` : r.servers ?? '—'} | ${num(r.joined)} / ${num(r.conns)}${note} | ${num(r.connect_wall_s, 1)} | ${num(r.connect_cpu_ms / 1000, 1)}${tail} | ${num(r.rss_before_kb / 1024, 0)} → ${num(r.rss_idle_kb / 1024, 0)} | ${num(r.kb_per_conn_idle, 2)} | ${num(idlePct, 1)} | ${r.open_files_each ?? '—'} | ${num(r.redis_cpu_ms / 1000, 1)} | ${r.load_avg} | ${r.ok ? 'yes' : `no${r.aborted ? `: ${r.aborted}` : ''}`} |`);
}
say('', 'RSS is VmRSS summed over every server process (the node:cluster primary included), after the idle hold with Engine.IO heartbeats running, less the same sum before the first connection, divided by the connections joined. Each connection is a distinct user (HS256 JWT) in 2 rooms: one of 10 members and one of the broadcast room\'s size.', '');

say('## Broadcasts across the nodes (POST /api/emit, one at a time)', '',
  '| server | at (UTC) | to | recipients | sent / complete | p50 ms | p99 ms | max ms | deliveries / s at p50 | server CPU µs per delivery | lost | dup | overtaken | wrong recipient |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of runs) {
  for (const [k, label] of [['room', `room of ${num(r.wide_size)} spread over the nodes`], ['all', 'everyone']]) {
    if (!r[`${k}_sent`]) continue;
    const dps = r[`${k}_p50_ms`] > 0 ? r[`${k}_recipients`] / (r[`${k}_p50_ms`] / 1000) : -1;
    say(`| ${name[r.kind] ?? r.kind} | ${r.at ?? '—'} | ${label} | ${num(r[`${k}_recipients`])} | ${r[`${k}_sent`]} / ${r[`${k}_complete`]} | ${num(r[`${k}_p50_ms`], 2)} | ${num(r[`${k}_p99_ms`], 2)} | ${num(r[`${k}_max_ms`], 2)} | ${num(dps)} | ${num(r[`${k}_cpu_us_per_delivery`], 2)} | ${r.lost ?? '—'} | ${r.dup ?? '—'} | ${r.overtaken ?? '—'} | ${r.bad ?? '—'} |`);
  }
}
say('', 'Latency: from writing the HTTP request (a fresh connection each time, so the kernel hands it to any of the processes) until the last recipient read its copy. Lost, dup, overtaken (a copy that arrived after the next broadcast: the earlier one had timed out, 10 s for the room and 30 s for everyone, and the next went out through another node) and wrong recipient are counted over every broadcast of the run, at every recipient; a broadcast that timed out is not in the percentiles (sent / complete). Server CPU is that of all server processes during the series (their idle heartbeats included).', '');

if (fanout.length) {
  say('## Fanout side by side (bench/cluster.sh, same run)', '',
    '| processes | subscribers | Switchboard deliveries/s | Node.js deliveries/s | ratio | server CPU µs per delivery, Switchboard / Node.js | CPU ratio | lost / dup / out of order / undelivered (both) | ok |',
    '|---|---|---|---|---|---|---|---|---|');
  const bySize = new Map();
  for (const r of fanout) {
    const key = `${r.procs}/${r.conns}`;
    if (!bySize.has(key)) bySize.set(key, {});
    bySize.get(key)[r.server] = r;
  }
  for (const [key, { sb, node }] of bySize) {
    const [procs, subs] = key.split('/');
    const cpu = (r) => (r && r.deliveries ? (r.server_cpu_ms * 1000) / r.deliveries : -1);
    const ratio = sb && node && node.peak_deliveries_per_s > 0 ? sb.peak_deliveries_per_s / node.peak_deliveries_per_s : -1;
    const cpuRatio = cpu(sb) > 0 && cpu(node) > 0 ? cpu(node) / cpu(sb) : -1;
    const counters = [sb, node].map((r) => (r ? `${r.lost ?? '—'}/${r.dup ?? '—'}/${r.out_of_order ?? '—'}/${r.undelivered ?? '—'}` : '—')).join(', ');
    const target = ratio >= 10 ? '≥ 10×: met' : ratio > 0 ? '≥ 10×: **missed**' : '';
    say(`| ${procs} | ${num(Number(subs))} | ${num(sb?.peak_deliveries_per_s)} | ${num(node?.peak_deliveries_per_s)} | ${num(ratio, 1)}× (${target}) | ${num(cpu(sb), 2)} / ${num(cpu(node), 2)} | Node ÷ Switchboard ${num(cpuRatio, 1)}× | ${counters} | ${sb?.ok && node?.ok ? 'yes' : 'no'} |`);
  }
  say('', 'Peak deliveries/s: the best 1 s step of the load generator\'s ramp; CPU per delivery over the whole run (connects included), every server process, Redis apart. See bench/README.md (Cluster).', '');
}

const sb = runs.find((r) => r.kind === 'sb');
if (sb) {
  const kb = sb.kb_per_conn_idle;
  say('## Targets', '',
    `- ≤ 1.5 KiB RSS per connection across the cluster: ${num(kb, 2)} KiB — ${kb > 0 && kb <= 1.5 ? 'met' : '**missed**'}.`,
    `- Every delivery counted: ${sb.deliveries ?? 0} of ${sb.deliveries_expected ?? 0} broadcast deliveries, lost ${sb.lost}, duplicated ${sb.dup}, to a non-member ${sb.bad}.`);
  const node = runs.find((r) => r.kind === 'node');
  if (node) say(`- The Node.js cluster at the same size: ${num(node.joined)} of ${num(node.conns)} connections joined${node.memory_capped ? ', stopped at the memory bound' : ''}, ${num(node.kb_per_conn_idle, 2)} KiB per connection.`);
  say('');
}
console.log(out.join('\n'));
