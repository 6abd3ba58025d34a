// Turns the results of one run into the targets verdicts and the markdown table of latest.md.

const ORDER = ['ours', 'plain', 'limit', 'naive', 'nats', 'mqtt'];

/** @param {number | null | undefined} x @param {number} [digits] */
function n(x, digits = 0) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** @param {Record<string, any>} table */
function keysOf(table) {
  return ORDER.filter((k) => table[k]);
}

/** @param {any} m a fan-out measurement @returns {number | null} server CPU % of one core per 100k delivered quotes/s */
function cpuPer100k(m) {
  if (!m || !m.updatesPerSec || m.serverCpuPct === null) return null;
  return (m.serverCpuPct * 100_000) / m.updatesPerSec;
}

/**
 * Server CPU at `updates` quotes/s, from the ramp steps held: interpolated between the two held
 * steps around it, or extrapolated along the line through the held steps (and then said so).
 * @param {import('./results.mjs').RampResult | undefined} ramp @param {number} updates
 * @returns {{ pct: number, note: string } | null}
 */
export function cpuAt(ramp, updates) {
  /** @type {{ x: number, y: number }[]} held steps: updates/s, server CPU % */
  const pts = [];
  for (const m of ramp?.steps ?? []) {
    if ('note' in m) continue; // never measured
    if (m.within && m.serverCpuPct !== null && m.updatesPerSec > 0) pts.push({ x: m.updatesPerSec, y: m.serverCpuPct });
  }
  pts.sort((a, b) => a.x - b.x);
  const first = pts[0];
  const top = pts[pts.length - 1];
  if (!first || !top) return null;
  const below = pts.filter((p) => p.x <= updates).pop();
  const above = pts.find((p) => p.x >= updates);
  if (below && above) {
    const pct =
      above.x === below.x ? below.y : below.y + ((above.y - below.y) * (updates - below.x)) / (above.x - below.x);
    return { pct, note: `interpolated between held ramp steps at ${n(below.x)} and ${n(above.x)} updates/s` };
  }
  if (pts.length === 1) {
    return {
      pct: (first.y * updates) / first.x,
      note: `scaled from the one held step, ${n(first.y, 1)} % at ${n(first.x)} updates/s`,
    };
  }
  // least squares through the held steps
  const k = pts.length;
  const mx = pts.reduce((s, p) => s + p.x, 0) / k;
  const my = pts.reduce((s, p) => s + p.y, 0) / k;
  const sxx = pts.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const slope = sxx > 0 ? pts.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx : my / mx;
  const pct = my + slope * (updates - mx);
  return {
    pct,
    note:
      updates > top.x
        ? `extrapolated: within bound it delivers at most ${n(top.x)} updates/s (${n(top.y, 1)} % CPU there), so ${n(updates)} is beyond what it holds`
        : `extrapolated from held steps ${n(first.x)}..${n(top.x)} updates/s`,
  };
}

/**
 * The issue 3 targets, each with a plain MET / MISSED / NOT RUN.
 * @param {any} r the results object of run.mjs
 */
export function evaluateTargets(r) {
  /** @type {any[]} */
  const out = [];
  /**
   * @param {string} name @param {number | null | undefined} value @param {string} unit
   * @param {(v: number) => boolean} ok @param {string} target @param {string} [note]
   */
  const add = (name, value, unit, ok, target, note = '') => {
    const has = value !== null && value !== undefined && Number.isFinite(value);
    out.push({
      name,
      value: has ? value : null,
      unit,
      target,
      status: has ? (ok(value) ? 'MET' : 'MISSED') : 'NOT RUN',
      note,
    });
  };
  const ro = r.ramp?.ours;
  const rl = r.ramp?.limit;
  const rp = r.ramp?.plain;
  const capNote = (/** @type {any} */ x, /** @type {string} */ who) =>
    x?.capped
      ? `${who} never left the bound up to ${x.maxClientsHeld} clients (the cap), so its figure is a lower bound. `
      : '';

  add(
    'Ramp: most quote updates/s ours delivers with p99 within bound vs most frames/s the limit sustains',
    ro && rl?.maxFramesPerSecWithinBound ? ro.maxUpdatesPerSecWithinBound / rl.maxFramesPerSecWithinBound : null,
    '×',
    (v) => v >= 1.0,
    '≥ 1.0×',
    ro && rl
      ? `${capNote(ro, 'ours')}${capNote(rl, 'the limit')}ours ${n(ro.maxUpdatesPerSecWithinBound)} updates/s, limit ${n(rl.maxFramesPerSecWithinBound)} frames/s`
      : '',
  );
  add(
    'Delivery vs plain Socket.IO (most quotes/s within bound; one quote per frame for plain)',
    ro && rp?.maxUpdatesPerSecWithinBound ? ro.maxUpdatesPerSecWithinBound / rp.maxUpdatesPerSecWithinBound : null,
    '×',
    (v) => v >= 1.0,
    '≥ 1.0×',
    ro && rp
      ? `${capNote(ro, 'ours')}${capNote(rp, 'plain')}frames/s ratio ${n(rp.maxFramesPerSecWithinBound ? ro.maxFramesPerSecWithinBound / rp.maxFramesPerSecWithinBound : null, 2)}× (ours ${n(ro.maxFramesPerSecWithinBound)}, plain ${n(rp.maxFramesPerSecWithinBound)})`
      : '',
  );
  const cpu = cpuAt(ro, 100_000);
  add('Server CPU at 100,000 updates/s', cpu?.pct, '% of one core', (v) => v <= 35, '≤ 35 %', cpu ? cpu.note : '');
  const mo = r.memory?.ours;
  add(
    'Idle memory per connection (RSS after GC)',
    mo?.perConnKB,
    'KB',
    (v) => v <= 10,
    '≤ 10 KB',
    mo ? `${n(mo.clients)} clients` : '',
  );
  const h = ro?.halfLoad;
  add(
    'p99 latency at 50 % of the maximum load',
    h?.latencyP99Ms,
    'ms',
    (v) => v <= 100 + 10,
    '≤ tier + 10 ms = 110 ms',
    h ? `${n(h.clients)} clients, ${n(h.updatesPerSec)} updates/s (${n((h.ofMaxUpdates ?? 0) * 100)} % of max)` : '',
  );
  add(
    'Ingest, market state + throttler on one core (micro)',
    r.ingestMicro?.ticksPerSecond,
    'ticks/s',
    (v) => v >= 1_000_000,
    '≥ 1,000,000 ticks/s',
  );
  const f = r.ingestFeed;
  add(
    'Ingest end to end through /feed',
    f?.status === 'ok' ? f.ticksPerSecond : null,
    'ticks/s',
    (v) => v >= 200_000,
    '≥ 200,000 ticks/s',
    f?.status === 'ok'
      ? `tickdeck-sim replay --speed max, batches of ${n(f.batch)}, ${f.inFlight} in flight; ${n(f.ticks)} ticks + ${n(f.trades)} trades in ${f.seconds} s, gateway CPU ${f.serverCpuPct ?? '–'} %`
      : (f?.reason ?? ''),
  );
  const b = r.browser?.status === 'ok' ? r.browser : null;
  const bNote = b
    ? `${b.charts} charts @ ${b.tierMs} ms for ${b.seconds} s, headless Chromium ${b.chromium}`
    : (r.browser?.reason ?? '');
  add('Dashboard: frames per second (median of 1 s samples)', b?.fpsMedian, 'fps', (v) => v >= 55, '≥ 55 fps', bNote);
  add(
    'Dashboard: longest main-thread task',
    b?.longestTaskMs,
    'ms',
    (v) => v <= 50,
    '≤ 50 ms',
    b ? `${b.longTasks} long task(s) over 50 ms` : '',
  );
  add(
    'Dashboard: JS bundle, gzipped',
    b?.jsGzipKB,
    'KB',
    (v) => v <= 150,
    '≤ 150 KB',
    b ? `${b.jsRawKB} KB raw; CSS ${b.cssGzipKB} KB gzipped` : '',
  );
  return out;
}

/** @param {any} ramp @param {number} updates */
function cpuCell(ramp, updates) {
  const c = cpuAt(ramp, updates);
  if (!c) return '–';
  return c.note.startsWith('extrapolated: within bound') ? `(> ${n(c.pct, 0)})` : n(c.pct, 1);
}

/** @param {any} r */
export function renderMarkdown(r) {
  const L = [];
  const c = r.config;
  const label = (/** @type {string} */ k) => r.servers[k]?.label ?? k;
  L.push(`# tickdeck benchmark (${c.mode})`);
  L.push('');
  L.push(
    `${r.date.slice(0, 10)} · ${r.machine.cores} cores, ${r.machine.cpuModel}, ${Math.round(r.machine.totalMemMB / 1024)} GB · Node ${r.machine.node} · ${r.machine.platform} · wall time ${n(r.wallSeconds)} s`,
  );
  L.push('');
  L.push(
    `Workload: the simulator at ${n(c.feedRate)} ticks/s (seed ${c.feedSeed}; ${c.tradeProbability === null ? 'its default 30 % of ticks are trades' : `FEED_TRADE_PROBABILITY=${c.tradeProbability}`}), 20 symbols, tiers ${c.tiersMs.join('/')} ms. ` +
      `Every client subscribes to ${c.symbolsPerClient} of the 20 symbols at the ${c.tierMs} ms tier ` +
      `(${c.subsets === 'rotate' ? 'client i takes symbols i..i+9: 20 distinct sets, every symbol in half the clients' : 'seeded random sets'}), ` +
      `and so also receives those symbols' trades. Load: lean Engine.IO/Socket.IO clients (${c.transport} transport) in ${c.workers} processes ` +
      `on the same machine, latency sampled from 1 quotes frame in ${c.sampleEvery} (receipt time − quote \`ts\`). ` +
      `Updates = quotes delivered; frames = \`quotes\` frames; trade frames counted apart. Server CPU is % of one core from /proc; ELD = event-loop delay.`,
  );
  if (r.servers.ours) L.push('', `Ours: \`${r.servers.ours.script}\` built ${r.servers.ours.scriptModified}.`);
  L.push('');

  // -------- targets
  L.push('## Targets (issue 3)');
  L.push('');
  L.push('| target | ours | goal | status | notes |');
  L.push('| --- | ---: | --- | --- | --- |');
  for (const t of r.targets) {
    const digits = t.unit === '×' ? 2 : t.unit === 'KB' || t.unit.startsWith('%') ? 1 : 0;
    const v = t.value === null ? '–' : `${n(t.value, digits)}${t.unit === '×' ? '×' : ` ${t.unit}`}`;
    L.push(`| ${t.name} | ${v} | ${t.target} | **${t.status}** | ${t.note} |`);
  }
  L.push('');

  // -------- fan-out
  const fk = keysOf(r.fanout);
  if (fk.length > 0) {
    L.push(
      `## Fan-out: ${n(c.fanoutClients)} clients × ${c.symbolsPerClient} symbols @ ${c.tierMs} ms, feed ${n(c.feedRate)} ticks/s (${c.windowMs / 1000} s window)`,
    );
    L.push('');
    L.push(
      '| server | clients | updates/s | % of owed | frames/s | quotes/frame | trade frames/s | MB/s | p50 ms | p99 ms | max ms | server CPU % | CPU % per 100k upd/s | RSS MB | ELD p99 ms | load-gen CPU % | other load % |',
    );
    L.push(
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const k of fk) {
      const m = r.fanout[k];
      L.push(
        `| ${label(k)}${m.overloaded ? ' ⚠ overloaded' : ''} | ${n(m.clients)}${m.connectFailures ? ` (${n(m.connectFailures)} failed to connect)` : ''} | ${n(m.updatesPerSec)} | ${m.deliveredRatio === null ? '–' : n(m.deliveredRatio * 100, 1)} | ${n(m.framesPerSec)} | ${n(m.quotesPerFrame, 2)} | ${n(m.tradeFramesPerSec)} | ${n(m.mbPerSec, 1)} | ${n(m.latencyP50Ms)} | ${n(m.latencyP99Ms)} | ${n(m.latencyMaxMs)} | ${n(m.serverCpuPct, 1)} | ${n(cpuPer100k(m), 1)} | ${n(m.serverRssMB, 1)} | ${n(m.eldP99Ms, 1)} | ${n(m.clientCpuPct)} | ${n(m.otherLoadPct)} |`,
      );
    }
    L.push('');
    const brokers = fk.filter((k) => r.fanout[k].publisherCpuPct != null);
    if (brokers.length > 0) {
      L.push(
        `Broker peers (${brokers.join(', ')}): server CPU and RSS are the broker process's (nats-server, mosquitto; on free ports with their own config), subscribers on its WebSocket listener; one message (NATS \`MSG\`, MQTT \`PUBLISH\`) counts as one frame. ` +
          `Their Node publisher (the same simulator, market state and throttler as every peer, publishing over TCP) used ${brokers.map((k) => `${k} ${n(r.fanout[k].publisherCpuPct, 1)} %`).join(', ')} of a core more; ELD is the publisher's.`,
      );
      L.push('');
    }
  }

  // -------- ramp
  const rk = keysOf(r.ramp);
  if (rk.length > 0) {
    L.push(
      `## Ramp: clients added until p99 > ${c.ramp.boundMs} ms (100 ms + the tier) or less than ${c.ramp.minDelivered * 100} % of the owed quotes arrive`,
    );
    L.push('');
    L.push(
      `From ${n(c.ramp.startClients)} clients; each step adds what the CPU readings say is left (+15 % to ×2), then ${c.ramp.bisections} bisection(s) between the last step held and the first over; a window over the bound is measured again and counts only if both are over. ` +
        `Owed = clients × ${c.symbolsPerClient} symbols × ${1000 / c.tierMs}/s.`,
    );
    L.push('');
    L.push(
      '| server | most clients held | most updates/s within bound | frames/s there | first over bound | p99 at ~50 % load | server CPU % at 50k upd/s | at 100k upd/s |',
    );
    L.push('| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |');
    for (const k of rk) {
      const x = r.ramp[k];
      const h = x.halfLoad;
      L.push(
        `| ${label(k)} | ${n(x.maxClientsHeld)}${x.capped ? ' (cap)' : ''} | ${n(x.maxUpdatesPerSecWithinBound)} | ${n(x.maxFramesPerSecWithinBound)} | ${x.firstClientsOverBound ? n(x.firstClientsOverBound) : '–'} | ${h ? `${n(h.latencyP99Ms)} ms (${n(h.clients)} clients, ${n(h.updatesPerSec)} upd/s)` : '–'} | ${cpuCell(x, 50_000)} | ${cpuCell(x, 100_000)} |`,
      );
    }
    L.push('');
    L.push('<details><summary>every ramp step</summary>');
    L.push('');
    L.push(
      '| server | clients | held | updates/s | % of owed | frames/s | trade frames/s | MB/s | p50 ms | p99 ms | max ms | server CPU % | RSS MB | ELD p99 ms | load-gen CPU % | other load % |',
    );
    L.push(
      '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const k of rk) {
      for (const m of r.ramp[k].steps) {
        if (m.note) {
          L.push(`| ${k} | ${n(m.clients)} | no | ${m.note} |||||||||||`);
          continue;
        }
        L.push(
          `| ${k}${m.bisect ? ' (bisect)' : ''}${m.retried ? ' (2nd window)' : ''}${m.overloaded ? ' ⚠' : ''} | ${n(m.clients)} | ${m.within ? 'yes' : 'no'} | ${n(m.updatesPerSec)} | ${n((m.deliveredRatio ?? 0) * 100, 1)} | ${n(m.framesPerSec)} | ${n(m.tradeFramesPerSec)} | ${n(m.mbPerSec, 1)} | ${n(m.latencyP50Ms)} | ${n(m.latencyP99Ms)} | ${n(m.latencyMaxMs)} | ${n(m.serverCpuPct, 1)} | ${n(m.serverRssMB, 1)} | ${n(m.eldP99Ms, 1)} | ${n(m.clientCpuPct)} | ${n(m.otherLoadPct)} |`,
        );
      }
    }
    L.push('');
    L.push('</details>');
    L.push('');
  }

  // -------- memory
  const mk = keysOf(r.memory);
  if (mk.length > 0) {
    L.push(
      `## Idle memory: ${n(c.memory.clients)} connected, subscribed, idle clients (${c.symbolsPerClient} symbols @ ${c.memory.tierMs} ms, quiet feed ${c.memory.feedRate} ticks/s); RSS after GC`,
    );
    L.push('');
    L.push('| server | clients | RSS before MB | RSS after MB | KB per connection | JS heap KB per connection |');
    L.push('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const k of mk) {
      const m = r.memory[k];
      L.push(
        `| ${label(k)} | ${n(m.clients)} | ${n(m.baselineRssMB, 1)} | ${n(m.rssMB, 1)} | ${n(m.perConnKB, 1)} | ${n(m.heapPerConnKB, 1)} |`,
      );
    }
    L.push('');
  }

  // -------- cluster (issue 7)
  const cl = r.cluster;
  if (cl && cl.status !== 'not run') {
    L.push(
      `## Cluster: the same clients on one gateway vs two over Redis (@ ${c.tierMs} ms, feed ${n(c.feedRate)} ticks/s)`,
    );
    L.push('');
    if (cl.status !== 'ok') L.push(`${cl.status}: ${cl.reason ?? ''}`);
    else {
      L.push(
        '| nodes | clients | updates/s | % of owed | frames/s | p50 ms | p99 ms | max ms | server CPU % per node | disconnects | other load % |',
      );
      L.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |');
      for (const m of [cl.oneNode, cl.twoNodes]) {
        L.push(
          `| ${m.nodes} | ${n(m.clients)} | ${n(m.updatesPerSec)} | ${n(m.deliveredRatio * 100, 1)} | ${n(m.framesPerSec)} | ${n(m.latencyP50Ms)} | ${n(m.latencyP99Ms)} | ${n(m.latencyMaxMs)} | ${m.serverCpuPct.map((/** @type {number} */ x) => n(x, 1)).join(' + ')} | ${n(m.disconnects)} | ${n(m.otherLoadPct)} |`,
        );
      }
    }
    L.push('');
  }

  // -------- ingest
  L.push('## Ingest');
  L.push('');
  L.push('| figure | ticks/s | notes |');
  L.push('| --- | ---: | --- |');
  const im = r.ingestMicro;
  L.push(
    `| micro: market state + throttler, one core | ${im?.status === 'ok' ? n(im.ticksPerSecond) : (im?.status ?? 'not run')} | ${im?.status === 'ok' ? `${n(im.ticks)} ticks in ${im.seconds} s` : (im?.reason ?? '')} |`,
  );
  const f = r.ingestFeed;
  L.push(
    `| end to end through \`/feed\` (tickdeck-sim replay --speed max over loopback) | ${f?.status === 'ok' ? n(f.ticksPerSecond) : (f?.status ?? 'not run')} | ${f?.status === 'ok' ? `${n(f.ticks)} ticks + ${n(f.trades)} trades accepted in ${f.seconds} s (${n(f.itemsPerSecond)} items/s), ${n(f.rejected)} rejected, batches of ${n(f.batch)}, ${f.inFlight} in flight, gateway CPU ${f.serverCpuPct ?? '–'} %` : (f?.reason ?? '')} |`,
  );
  L.push('');

  // -------- browser (issue 5)
  const br = r.browser;
  if (br && br.status === 'ok') {
    L.push(`## Dashboard in headless Chromium: ${br.charts} charts @ ${br.tierMs} ms, ${br.seconds} s`);
    L.push('');
    L.push(
      '| fps median | fps min | long tasks | longest task ms | AAPL quotes/s | JS gzip KB | JS raw KB | CSS gzip KB |',
    );
    L.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    L.push(
      `| ${n(br.fpsMedian, 1)} | ${n(br.fpsMin, 1)} | ${n(br.longTasks)} | ${n(br.longestTaskMs, 1)} | ${n(br.aaplQuotesPerSec, 1)} | ${n(br.jsGzipKB, 1)} | ${n(br.jsRawKB, 1)} | ${n(br.cssGzipKB, 1)} |`,
    );
    L.push('');
  }

  if (r.warnings?.length > 0) {
    L.push('## Warnings');
    L.push('');
    for (const w of r.warnings) L.push(`- ${w}`);
    L.push('');
  }
  if (r.errors.length > 0) {
    L.push('## Errors');
    L.push('');
    for (const e of r.errors) L.push(`- ${e}`);
    L.push('');
  }
  return `${L.join('\n')}\n`;
}
