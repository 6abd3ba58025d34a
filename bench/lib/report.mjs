// Turns the results of one run into the targets verdicts and the markdown table of latest.md.

const ORDER = ['ours', 'plain', 'limit', 'limit1', 'naive', 'nats', 'mqtt'];

/** @param {number | null | undefined} x @param {number} [digits] */
function n(x, digits = 0) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** @param {Record<string, any>} table */
function keysOf(table) {
  return ORDER.filter((k) => table[k]);
}

/**
 * Server CPU % of one core per 100k delivered quotes/s; for a broker peer the broker's and its
 * publisher's together (the two are the server).
 * @param {any} m a fan-out measurement @returns {number | null}
 */
function cpuPer100k(m) {
  if (!m || !m.updatesPerSec || m.serverCpuPct === null) return null;
  return ((m.serverCpuPct + (m.publisherCpuPct ?? 0)) * 100_000) / m.updatesPerSec;
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
 * One row of the targets table.
 * @typedef {object} TargetRow
 * @property {string} name
 * @property {number | null} value      ours (null: not computed)
 * @property {string} unit
 * @property {string} [valueText]       ours, when one number does not say it
 * @property {string | null} reference  what ours is compared with (null: an absolute target)
 * @property {number | null} referenceValue
 * @property {string} [referenceText]   the reference, when one number does not say it
 * @property {number | null} ratio      ours / reference
 * @property {string} [ratioText]
 * @property {string} target
 * @property {'MET' | 'MISSED' | 'not run'} status
 * @property {string} note
 */

/** The workload the targets are judged on. */
export const TARGET_WORKLOAD = 'random';

/**
 * The targets (issue 13, and issue 3's that still stand), each MET, MISSED or "not run" — a row
 * whose server or scenario did not run is never MET.
 * @param {any} r the results object of run.mjs
 * @returns {TargetRow[]}
 */
export function evaluateTargets(r) {
  /** @type {TargetRow[]} */
  const out = [];
  const w = TARGET_WORKLOAD;
  const ramp = (/** @type {string} */ k) => r.ramp?.[w]?.[k];
  const fan = (/** @type {string} */ k) => r.fanout?.[w]?.[k];
  const capNote = (/** @type {any} */ x, /** @type {string} */ who) =>
    x?.capped ? `${who} never left the bound up to ${n(x.maxClientsHeld)} clients (the cap): a lower bound. ` : '';
  /** @param {string} name @param {string} unit @param {string} target @param {string} why */
  const notRun = (name, unit, target, why) =>
    out.push({
      name,
      value: null,
      unit,
      reference: null,
      referenceValue: null,
      ratio: null,
      target,
      status: 'not run',
      note: why,
    });
  /**
   * An absolute target.
   * @param {string} name @param {number | null | undefined} value @param {string} unit
   * @param {(v: number) => boolean} ok @param {string} target @param {string} note @param {string} [whyNot]
   */
  const absolute = (name, value, unit, ok, target, note, whyNot = 'not run') => {
    if (value === null || value === undefined || !Number.isFinite(value)) return notRun(name, unit, target, whyNot);
    out.push({
      name,
      value,
      unit,
      reference: null,
      referenceValue: null,
      ratio: null,
      target,
      status: ok(value) ? 'MET' : 'MISSED',
      note,
    });
  };
  /**
   * Ours against a reference: MET when ours / reference passes `ok`.
   * @param {string} name @param {string} unit @param {string} refKey
   * @param {number | null | undefined} ours @param {number | null | undefined} ref
   * @param {(ratio: number) => boolean} ok @param {string} target @param {string} note @param {string} whyNot
   * @param {boolean} higherIsBetter  with a reference of 0: met when ours is above 0 (higher) or never (lower)
   */
  const ratioRow = (name, unit, refKey, ours, ref, ok, target, note, whyNot, higherIsBetter) => {
    if (ours == null || ref == null || !Number.isFinite(ours) || !Number.isFinite(ref))
      return notRun(name, unit, target, whyNot);
    const ratio = ref > 0 ? ours / ref : null;
    const status = ratio !== null ? ok(ratio) : higherIsBetter && ours > 0;
    out.push({
      name,
      value: ours,
      unit,
      reference: refKey,
      referenceValue: ref,
      ratio,
      target,
      status: status ? 'MET' : 'MISSED',
      note: (ratio === null ? `${note}the reference measured 0.` : note).trim(),
    });
  };

  // -------- delivery within bound (ramp, random workload)
  const ro = ramp('ours');
  const mostWithin = (/** @type {string} */ ref, /** @type {number} */ k, /** @type {string} */ what) => {
    const rr = ramp(ref);
    ratioRow(
      `Most quote updates/s within bound (ramp, ${w}) vs ${what}`,
      'updates/s',
      ref,
      ro?.maxUpdatesPerSecWithinBound,
      rr?.maxUpdatesPerSecWithinBound,
      (x) => x >= k,
      `≥ ${k}× ${ref}`,
      `${capNote(ro, 'ours')}${capNote(rr, ref)}`,
      `needs the ${w} ramp of ours and ${ref} (${!ro ? 'ours' : ref} not run)`,
      true,
    );
  };
  mostWithin('limit', 3, 'the per-symbol limit');
  mostWithin('limit1', 0.8, 'the one-frame-per-viewer limit');
  mostWithin('nats', 1, 'NATS');
  mostWithin('plain', 1, 'plain Socket.IO');

  // -------- CPU per delivered quote (fan-out, random workload)
  const fo = fan('ours');
  const fl = fan('limit');
  ratioRow(
    `Server CPU per 100k updates/s (fan-out, ${w}) vs the per-symbol limit`,
    '% of a core',
    'limit',
    cpuPer100k(fo),
    cpuPer100k(fl),
    (x) => x <= 0.35,
    '≤ 0.35× limit',
    fo && fl
      ? `ours ${n(fo.serverCpuPct, 1)} % at ${n(fo.updatesPerSec)} upd/s, limit ${n(fl.serverCpuPct, 1)} % at ${n(fl.updatesPerSec)} upd/s. ` +
          [
            ['ours', fo],
            ['limit', fl],
          ]
            .filter(([, m]) => (m.deliveredRatio ?? 1) < 0.95 || m.connectFailures)
            .map(
              ([who, m]) =>
                `${who} was saturated there (${n((m.deliveredRatio ?? 0) * 100)} % of owed${m.connectFailures ? `, ${n(m.connectFailures)} failed to connect` : ''}): its figure is CPU per update at saturation. `,
            )
            .join('')
      : '',
    `needs the ${w} fan-out of ours and limit (${!fo ? 'ours' : 'limit'} not run)`,
    false,
  );

  // -------- latency at half load
  const h = ro?.halfLoad;
  const tier = r.config?.tierMs ?? 100;
  if (!h)
    notRun(
      `p99 latency at 50 % of ours' maximum (ramp, ${w})`,
      'ms',
      `≤ ${tier + 10} ms, 0 failed connects`,
      ro ? 'the ramp held no step (or ran without the half-load window, --quick)' : `ours' ${w} ramp not run`,
    );
  else {
    const failed = h.connectFailures ?? 0;
    const ok = h.latencyP99Ms !== null && h.latencyP99Ms <= tier + 10 && failed === 0;
    out.push({
      name: `p99 latency at 50 % of ours' maximum (ramp, ${w})`,
      value: h.latencyP99Ms,
      unit: 'ms',
      valueText: `${n(h.latencyP99Ms)} ms, ${n(failed)} failed`,
      reference: null,
      referenceValue: null,
      ratio: null,
      target: `≤ tier + 10 ms = ${tier + 10} ms, 0 failed connects`,
      status: h.latencyP99Ms === null ? 'not run' : ok ? 'MET' : 'MISSED',
      note: `${n(h.clients)} clients, ${n(h.updatesPerSec)} updates/s (${n((h.ofMaxUpdates ?? 0) * 100)} % of max)`,
    });
  }

  // -------- idle memory
  const mo = r.memory?.ours;
  const atFull = mo && mo.clients >= 5000;
  const memWhy = !mo ? 'memory scenario not run for ours' : `measured at ${n(mo.clients)} viewers, not 5,000 (--quick)`;
  absolute(
    'Idle memory per connection at 5,000 viewers: RSS after GC',
    atFull ? mo.perConnKB : null,
    'KB',
    (v) => v <= 12,
    '≤ 12 KB',
    atFull ? `${n(mo.clients)} viewers, RSS ${n(mo.baselineRssMB, 1)} -> ${n(mo.rssMB, 1)} MB` : '',
    memWhy,
  );
  absolute(
    'Idle memory per connection at 5,000 viewers: JS heap after GC',
    atFull ? mo.heapPerConnKB : null,
    'KB',
    (v) => v <= 10,
    '≤ 10 KB',
    atFull ? `${n(mo.clients)} viewers` : '',
    memWhy,
  );

  // -------- scale
  const sc = r.scale;
  if (sc?.status !== 'ok') {
    notRun(
      'Scale: 20,000 viewers @ 1000 ms on one gateway held within bound',
      '',
      'p99 ≤ 1,100 ms, ≥ 95 % of owed, 0 failed connects',
      sc?.reason ?? 'scale scenario not run',
    );
  } else {
    const m = sc.window;
    out.push({
      name: `Scale: ${n(sc.target)} viewers @ ${sc.tierMs} ms on one gateway held within bound`,
      value: m.latencyP99Ms,
      unit: 'ms',
      valueText: `p99 ${n(m.latencyP99Ms)} ms, ${n(m.updatesPerSec)} upd/s, ${n(sc.connectFailures)} failed`,
      reference: 'owed',
      referenceValue: sc.owedPerSec,
      referenceText: `owed ${n(sc.owedPerSec)} upd/s`,
      ratio: m.deliveredRatio,
      ratioText: `${n((m.deliveredRatio ?? 0) * 100, 1)} % delivered`,
      target: `p99 ≤ ${n(sc.boundMs)} ms, ≥ 95 % of owed, 0 failed connects`,
      status: m.latencyP99Ms === null ? 'not run' : sc.held ? 'MET' : 'MISSED',
      note:
        `${n(sc.connected)} of ${n(sc.target)} viewers connected` +
        (sc.whyNotTarget
          ? ` (${n(sc.attempted)} attempted: the open-files limit is ${n(sc.limits.gatewayOpenFiles)}, hard ${n(sc.limits.gatewayOpenFilesHard)}, and the gateway holds at most ${n(sc.limits.gatewayHttpCap)} HTTP connections under it; see Scale below)`
          : '') +
        `; server CPU ${n(m.serverCpuPct, 1)} %, RSS ${n(m.serverRssMB)} MB`,
    });
  }

  // -------- history (issue 14)
  const hi = r.history;
  const hc = r.config?.history ?? { minRatio: 0.95, maxEldDeltaMs: 5 };
  const hWhy = hi?.reason ?? 'history scenario not run';
  const hOk = hi?.status === 'ok';
  const hNote = hOk
    ? `${n(hi.clients)} clients, feed ${n(hi.feedRate)} ticks/s, ${hi.windows.length} windows (${hi.windows.map((/** @type {any} */ x) => x.store).join(', ')}), means; CPU sqlite ${n(hi.sqlite.serverCpuPct, 1)} %, memory ${n(hi.memory.serverCpuPct, 1)} %`
    : '';
  ratioRow(
    'History cost: updates/s within bound (fan-out), HISTORY_STORE=sqlite vs memory',
    'updates/s',
    'memory',
    hOk ? hi.sqlite.withinBoundPerSec : null,
    hOk ? hi.memory.withinBoundPerSec : null,
    (x) => x >= hc.minRatio,
    `≥ ${hc.minRatio}× memory`,
    hNote,
    hWhy,
    true,
  );
  if (!hOk || hi.sqlite.eldP99Ms === null || hi.memory.eldP99Ms === null) {
    notRun(
      'History cost: event-loop delay p99 (fan-out), sqlite vs memory',
      'ms',
      `≤ memory + ${hc.maxEldDeltaMs} ms`,
      hOk ? 'no event-loop delay reading' : hWhy,
    );
  } else {
    const delta = hi.sqlite.eldP99Ms - hi.memory.eldP99Ms;
    out.push({
      name: 'History cost: event-loop delay p99 (fan-out), sqlite vs memory',
      value: hi.sqlite.eldP99Ms,
      unit: 'ms',
      valueText: `${n(hi.sqlite.eldP99Ms, 1)} ms`,
      reference: 'memory',
      referenceValue: hi.memory.eldP99Ms,
      referenceText: `memory: ${n(hi.memory.eldP99Ms, 1)} ms`,
      ratio: null,
      ratioText: `${delta >= 0 ? '+' : '−'}${n(Math.abs(delta), 1)} ms`,
      target: `≤ memory + ${hc.maxEldDeltaMs} ms`,
      status: delta <= hc.maxEldDeltaMs ? 'MET' : 'MISSED',
      note: hNote,
    });
  }
  const ca = r.candles;
  const cc = r.config?.candles ?? { p99TargetMs: 20, targetDays: 7 };
  for (const [store, label] of /** @type {const} */ ([
    ['sqlite', 'SQLite'],
    ['postgres', 'PostgreSQL'],
  ])) {
    const name = `GET /api/candles p99 over ${cc.targetDays} days of stored bars, every interval (${label})`;
    const x = ca?.status === 'ok' ? ca.stores?.[store] : null;
    const target = `≤ ${cc.p99TargetMs} ms`;
    if (!x)
      notRun(
        name,
        'ms',
        target,
        ca?.status === 'ok' ? `${label} not in this run` : (ca?.reason ?? 'candles scenario not run'),
      );
    else if (x.status !== 'ok') notRun(name, 'ms', target, `${label} skipped: ${x.reason}`);
    else if (ca.days < cc.targetDays)
      notRun(
        name,
        'ms',
        target,
        `measured over ${ca.days} day(s) of bars, not ${cc.targetDays} (--quick): worst p99 ${n(x.worstP99Ms, 1)} ms (${x.worstInterval})`,
      );
    else {
      out.push({
        name,
        value: x.worstP99Ms,
        unit: 'ms',
        valueText: `${n(x.worstP99Ms, 1)} ms (${x.worstInterval})`,
        reference: null,
        referenceValue: null,
        ratio: null,
        target,
        status: x.worstP99Ms <= cc.p99TargetMs ? 'MET' : 'MISSED',
        note:
          `p50/p99 ms: ${Object.entries(x.intervals)
            .map(([i, t]) => `${i} ${n(/** @type {any} */ (t).p50Ms, 1)}/${n(/** @type {any} */ (t).p99Ms, 1)}`)
            .join(', ')}; ` +
          `${n(ca.requests)} requests per interval, limit ${ca.limit}, ${n(x.seed.rows)} bars of ${ca.symbols.join(', ')}, feed ${n(ca.feedRate)} ticks/s`,
      });
    }
  }

  // -------- issue 3's that still stand
  absolute(
    'Ingest, market state + throttler on one core (micro)',
    r.ingestMicro?.ticksPerSecond,
    'ticks/s',
    (v) => v >= 1_000_000,
    '≥ 1,000,000 ticks/s',
    '',
    'ingest scenario not run',
  );
  const wa = r.ingestMicro?.withAlerts;
  absolute(
    `Ingest with ${n(wa?.alerts ?? 100_000)} armed price alerts, one core (micro)`,
    wa?.ticksPerSecond,
    'ticks/s',
    (v) => v >= 1_000_000,
    '≥ 1,000,000 ticks/s',
    wa
      ? `same run, alert book empty: ${n(r.ingestMicro.ticksPerSecond)} ticks/s (${n(wa.ticksPerSecond / r.ingestMicro.ticksPerSecond, 2)}×); ${n(wa.held)} held, ${n(wa.fired)} fired`
      : '',
    r.ingestMicro?.status === 'ok' ? 'run without --alerts' : 'ingest scenario not run',
  );
  const f = r.ingestFeed;
  absolute(
    'Ingest end to end through /feed',
    f?.status === 'ok' ? f.ticksPerSecond : null,
    'ticks/s',
    (v) => v >= 200_000,
    '≥ 200,000 ticks/s',
    f?.status === 'ok'
      ? `tickdeck-sim replay --speed max, batches of ${n(f.batch)}, ${f.inFlight} in flight; ${n(f.ticks)} ticks + ${n(f.trades)} trades in ${f.seconds} s, gateway CPU ${f.serverCpuPct ?? '–'} %`
      : '',
    f?.reason ?? 'ingest-feed scenario not run',
  );
  const b = r.browser?.status === 'ok' ? r.browser : null;
  const bNote = b ? `${b.charts} charts @ ${b.tierMs} ms for ${b.seconds} s, headless Chromium ${b.chromium}` : '';
  const bWhy = r.browser?.reason ?? 'browser scenario not run';
  absolute(
    'Dashboard: frames per second (median of 1 s samples)',
    b?.fpsMedian,
    'fps',
    (v) => v >= 55,
    '≥ 55 fps',
    bNote,
    bWhy,
  );
  absolute(
    'Dashboard: longest main-thread task',
    b?.longestTaskMs,
    'ms',
    (v) => v <= 50,
    '≤ 50 ms',
    b ? `${b.longTasks} long task(s) over 50 ms` : '',
    bWhy,
  );
  absolute(
    'Dashboard: JS bundle, gzipped',
    b?.jsGzipKB,
    'KB',
    (v) => v <= 150,
    '≤ 150 KB',
    b ? `${b.jsRawKB} KB raw; CSS ${b.cssGzipKB} KB gzipped` : '',
    bWhy,
  );
  return out;
}

/** @param {any} ramp @param {number} updates */
function cpuCell(ramp, updates) {
  const c = cpuAt(ramp, updates);
  if (!c) return '–';
  return c.note.startsWith('extrapolated: within bound') ? `(> ${n(c.pct, 0)})` : n(c.pct, 1);
}

/** @param {string} w a workload @returns {string} what it means */
function workloadText(w) {
  return w === 'rotate'
    ? 'rotate: client i takes symbols i..i+9, so 20 distinct sets, every symbol in half the clients (viewers share frames)'
    : 'random: every client its own seeded random 10 of the 20 (1,000 distinct sets), as watchlists are';
}

/** @param {any} m @returns {string} WebSocket messages per second per client */
function perClient(m) {
  return m.clients > 0 ? n(m.allFramesPerSec / m.clients, 1) : '–';
}

/** @param {any} r */
export function renderMarkdown(r) {
  const L = [];
  const c = r.config;
  const label = (/** @type {string} */ k) => r.servers[k]?.label ?? k;
  const workloads = /** @type {string[]} */ (c.workloads ?? Object.keys(r.fanout ?? {}));
  L.push(`# tickdeck benchmark (${c.mode})`);
  L.push('');
  L.push(
    `${r.date.slice(0, 10)} · ${r.machine.cores} cores, ${r.machine.cpuModel}, ${Math.round(r.machine.totalMemMB / 1024)} GB · Node ${r.machine.node} · ${r.machine.platform} · wall time ${n(r.wallSeconds)} s`,
  );
  L.push('');
  L.push(
    `Workload: the simulator at ${n(c.feedRate)} ticks/s (seed ${c.feedSeed}; ${c.tradeProbability === null ? 'its default 30 % of ticks are trades' : `FEED_TRADE_PROBABILITY=${c.tradeProbability}`}), 20 symbols, tiers ${c.tiersMs.join('/')} ms. ` +
      `Every client subscribes to ${c.symbolsPerClient} of the 20 symbols at the ${c.tierMs} ms tier, and so also receives those symbols' trades. ` +
      `How clients pick their symbols: ${workloads.map(workloadText).join('; ')}. The targets are judged on ${TARGET_WORKLOAD}. ` +
      `Load: lean Engine.IO/Socket.IO clients (${c.transport} transport) in ${c.workers} processes ` +
      `on the same machine, latency sampled from 1 frame with quotes in ${c.sampleEvery} (receipt time − quote \`ts\`). ` +
      `Updates = quotes delivered, whatever event carries them (ours and limit1: one \`frame\` per viewer per flush, with its due quotes and its symbols' trades; the other peers: a \`quotes\` frame per symbol and a \`trades\` frame per symbol). ` +
      `Quote frames = frames with quotes; trade frames = frames with trades (a \`frame\` with both counts in both, and under "both"); msgs/s per client = every WebSocket message. ` +
      `Server CPU is % of one core from /proc (a broker peer: the broker's, its publisher's beside it); ELD = event-loop delay.`,
  );
  if (r.servers.ours) L.push('', `Ours: \`${r.servers.ours.script}\` built ${r.servers.ours.scriptModified}.`);
  L.push('');

  // -------- targets
  L.push(`## Targets (issues 13 and 14; ramp and fan-out rows on the ${TARGET_WORKLOAD} workload)`);
  L.push('');
  L.push('| measure | ours | reference | ratio | target | status | notes |');
  L.push('| --- | ---: | ---: | ---: | --- | --- | --- |');
  for (const t of /** @type {TargetRow[]} */ (r.targets)) {
    const digits = t.unit === 'KB' || t.unit.startsWith('%') ? 1 : 0;
    const unit = t.unit ? ` ${t.unit}` : '';
    const v = t.valueText ?? (t.value === null ? '–' : `${n(t.value, digits)}${unit}`);
    const ref =
      t.referenceText ?? (t.reference === null ? '–' : `${t.reference}: ${n(t.referenceValue, digits)}${unit}`);
    const ratio = t.ratioText ?? (t.ratio === null ? '–' : `${n(t.ratio, 2)}×`);
    L.push(`| ${t.name} | ${v} | ${ref} | ${ratio} | ${t.target} | **${t.status}** | ${t.note} |`);
  }
  L.push('');

  for (const w of workloads) {
    // -------- fan-out
    const fanout = r.fanout?.[w] ?? {};
    const fk = keysOf(fanout);
    if (fk.length > 0) {
      L.push(
        `## Fan-out (${w}): ${n(c.fanoutClients)} clients × ${c.symbolsPerClient} symbols @ ${c.tierMs} ms, feed ${n(c.feedRate)} ticks/s (${c.windowMs / 1000} s window)`,
      );
      L.push('');
      L.push(`Symbols: ${workloadText(w)}.`);
      L.push('');
      L.push(
        '| server | clients | updates/s | % of owed | quote frames/s | quotes/frame | trade frames/s | both | msgs/s per client | MB/s | p50 ms | p99 ms | max ms | server CPU % | CPU % per 100k upd/s | RSS MB | ELD p99 ms | load-gen CPU % | other load % |',
      );
      L.push(
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      );
      for (const k of fk) {
        const m = fanout[k];
        L.push(
          `| ${label(k)}${m.overloaded ? ' ⚠ overloaded' : ''} | ${n(m.clients)}${m.connectFailures ? ` (${n(m.connectFailures)} failed to connect)` : ''} | ${n(m.updatesPerSec)} | ${m.deliveredRatio === null ? '–' : n(m.deliveredRatio * 100, 1)} | ${n(m.framesPerSec)} | ${n(m.quotesPerFrame, 2)} | ${n(m.tradeFramesPerSec)} | ${n(m.bothFramesPerSec)} | ${perClient(m)} | ${n(m.mbPerSec, 1)} | ${n(m.latencyP50Ms)} | ${n(m.latencyP99Ms)} | ${n(m.latencyMaxMs)} | ${n(m.serverCpuPct, 1)} | ${n(cpuPer100k(m), 1)} | ${n(m.serverRssMB, 1)} | ${n(m.eldP99Ms, 1)} | ${n(m.clientCpuPct)} | ${n(m.otherLoadPct)} |`,
        );
      }
      L.push('');
      const brokers = fk.filter((k) => fanout[k].publisherCpuPct != null);
      if (brokers.length > 0) {
        L.push(
          `Broker peers (${brokers.join(', ')}): server CPU and RSS are the broker process's (nats-server, mosquitto; on free ports with their own config), subscribers on its WebSocket listener; one message (NATS \`MSG\`, MQTT \`PUBLISH\`) counts as one frame. ` +
            `Their Node publisher (the same simulator, market state and throttler as every peer, publishing over TCP) used ${brokers.map((k) => `${k} ${n(fanout[k].publisherCpuPct, 1)} %`).join(', ')} of a core more; ELD is the publisher's. CPU per 100k upd/s counts both.`,
        );
        L.push('');
      }
    }

    // -------- ramp
    const ramps = r.ramp?.[w] ?? {};
    const rk = keysOf(ramps);
    if (rk.length > 0) {
      L.push(
        `## Ramp (${w}): clients added until p99 > ${c.ramp.boundMs} ms (100 ms + the tier) or less than ${c.ramp.minDelivered * 100} % of the owed quotes arrive`,
      );
      L.push('');
      L.push(
        `From ${n(c.ramp.startClients)} clients; each step adds what the CPU readings say is left (+15 % to ×2), then ${c.ramp.bisections} bisection(s) between the last step held and the first over; a window over the bound is measured again and counts only if both are over. ` +
          `Owed = clients × ${c.symbolsPerClient} symbols × ${1000 / c.tierMs}/s. Servers ramped (of those run): ${(c.ramp.servers?.[w] ?? rk).join(', ')}` +
          (w === 'rotate' && workloads.length > 1
            ? ' (the rotate ramp is limited to these to keep the full run within ~45 min).'
            : '.'),
      );
      L.push('');
      L.push(
        '| server | most clients held | most updates/s within bound | quote frames/s there | first over bound | p99 at ~50 % load | server CPU % at 50k upd/s | at 100k upd/s |',
      );
      L.push('| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |');
      for (const k of rk) {
        const x = ramps[k];
        const h = x.halfLoad;
        L.push(
          `| ${label(k)} | ${n(x.maxClientsHeld)}${x.capped ? ' (cap)' : ''} | ${n(x.maxUpdatesPerSecWithinBound)} | ${n(x.maxFramesPerSecWithinBound)} | ${x.firstClientsOverBound ? n(x.firstClientsOverBound) : '–'} | ${h ? `${n(h.latencyP99Ms)} ms (${n(h.clients)} clients, ${n(h.updatesPerSec)} upd/s)` : '–'} | ${cpuCell(x, 50_000)} | ${cpuCell(x, 100_000)} |`,
        );
      }
      L.push('');
      L.push(`<details><summary>every ramp step (${w})</summary>`);
      L.push('');
      L.push(
        '| server | clients | held | updates/s | % of owed | quote frames/s | trade frames/s | msgs/s per client | MB/s | p50 ms | p99 ms | max ms | server CPU % | RSS MB | ELD p99 ms | load-gen CPU % | other load % |',
      );
      L.push(
        '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      );
      for (const k of rk) {
        for (const m of ramps[k].steps) {
          if (m.note) {
            L.push(`| ${k} | ${n(m.clients)} | no | ${m.note} ||||||||||||`);
            continue;
          }
          L.push(
            `| ${k}${m.bisect ? ' (bisect)' : ''}${m.retried ? ' (2nd window)' : ''}${m.overloaded ? ' ⚠' : ''} | ${n(m.clients)} | ${m.within ? 'yes' : 'no'} | ${n(m.updatesPerSec)} | ${n((m.deliveredRatio ?? 0) * 100, 1)} | ${n(m.framesPerSec)} | ${n(m.tradeFramesPerSec)} | ${perClient(m)} | ${n(m.mbPerSec, 1)} | ${n(m.latencyP50Ms)} | ${n(m.latencyP99Ms)} | ${n(m.latencyMaxMs)} | ${n(m.serverCpuPct, 1)} | ${n(m.serverRssMB, 1)} | ${n(m.eldP99Ms, 1)} | ${n(m.clientCpuPct)} | ${n(m.otherLoadPct)} |`,
          );
        }
      }
      L.push('');
      L.push('</details>');
      L.push('');
    }
  }

  // -------- scale
  const sc = r.scale;
  if (sc && sc.status === 'ok') {
    const m = sc.window;
    L.push(
      `## Scale: ${n(sc.target)} viewers of ours @ ${sc.tierMs} ms on one gateway (feed ${n(sc.feedRate)} ticks/s, trades off)`,
    );
    L.push('');
    L.push(
      `Every viewer its own seeded random ${c.symbolsPerClient} of the 20 symbols, connected from ${n(sc.addresses)} loopback source addresses (127.0.0.${c.scale.firstAddress} on, ${sc.perAddress} each: the gateway's MAX_CONNECTIONS_PER_IP as shipped) by ${sc.workers} load-generator processes. ` +
        `Trades are off (FEED_TRADE_PROBABILITY=${sc.tradeProbability}): with them every viewer is owed a frame per fastest flush (10/s of ~15 KB at this feed, 3 GB/s for 20,000), which would measure the loopback and the load generator, not the gateway. ` +
        `Held: p99 ≤ ${n(sc.boundMs)} ms (tier + 100 ms), ≥ ${c.scale.minDelivered * 100} % of owed, no failed connect, none lost.`,
    );
    L.push('');
    L.push(
      `**Connected ${n(sc.connected)} of ${n(sc.target)}**${sc.whyNotTarget ? `: ${n(sc.attempted)} attempted, because ${sc.whyNotTarget}` : ''}. ` +
        `${n(sc.connectFailures)} failed to connect${sc.connectErrors?.length ? ` (${sc.connectErrors.join('; ')})` : ''}; connecting took ${n(sc.connectSeconds, 1)} s.`,
    );
    L.push('');
    L.push(
      '| viewers | held | updates/s | owed/s | % of owed | quote frames/s | msgs/s per viewer | MB/s | p50 ms | p99 ms | max ms | server CPU % | RSS MB | ELD p99 ms | load-gen CPU % | disconnects | other load % |',
    );
    L.push(
      '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    L.push(
      `| ${n(m.clients)} | ${sc.held ? 'yes' : 'no'} | ${n(m.updatesPerSec)} | ${n(sc.owedPerSec)} | ${n((m.deliveredRatio ?? 0) * 100, 1)} | ${n(m.framesPerSec)} | ${perClient(m)} | ${n(m.mbPerSec, 1)} | ${n(m.latencyP50Ms)} | ${n(m.latencyP99Ms)} | ${n(m.latencyMaxMs)} | ${n(m.serverCpuPct, 1)} | ${n(m.serverRssMB, 1)} | ${n(m.eldP99Ms, 1)} | ${n(m.clientCpuPct)} | ${n(m.disconnects)} | ${n(m.otherLoadPct)} |`,
    );
    L.push('');
  } else if (sc && sc.status !== 'not run') {
    L.push('## Scale', '', `${sc.status}: ${sc.reason ?? ''}`, '');
  }

  // -------- history cost (issue 14)
  const hs = r.history;
  if (hs && hs.status === 'ok') {
    L.push(
      `## History cost on fan-out: ours with HISTORY_STORE=sqlite vs memory (${n(hs.clients)} clients × ${c.symbolsPerClient} symbols @ ${c.tierMs} ms, feed ${n(hs.feedRate)} ticks/s)`,
    );
    L.push('');
    L.push(
      `One server per window, in this order (${hs.windows.map((/** @type {any} */ w) => w.store).join(', ')}); sqlite in a fresh DATA_DIR, written every HISTORY_WRITE_MS (1 s) by its writer thread. ` +
        `Within bound: p99 ≤ ${n(hs.boundMs)} ms and ≥ ${c.ramp.minDelivered * 100} % of owed (${n(hs.owedPerSec)}/s), no disconnects; a window that is not counts 0 updates/s within bound. ` +
        `A window during which other processes used more than ${c.otherLoadWarnPct} % of a core is measured again once (full run; "2nd window"). ` +
        `Rows written: bars + trades per second (the gateway's /metrics over the window); last write: the duration of the last batch.`,
    );
    L.push('');
    L.push(
      '| # | store | updates/s | within bound | % of owed | p50 ms | p99 ms | max ms | server CPU % | RSS MB | ELD p99 ms | ELD max ms | rows written/s | last write ms | other load % |',
    );
    L.push('| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    hs.windows.forEach((/** @type {any} */ m, /** @type {number} */ i) => {
      L.push(
        `| ${i + 1} | ${m.store}${m.retried ? ' (2nd window)' : ''}${m.overloaded ? ' ⚠' : ''} | ${n(m.updatesPerSec)} | ${m.held ? 'yes' : 'no'} | ${n((m.deliveredRatio ?? 0) * 100, 1)} | ${n(m.latencyP50Ms)} | ${n(m.latencyP99Ms)} | ${n(m.latencyMaxMs)} | ${n(m.serverCpuPct, 1)} | ${n(m.serverRssMB, 1)} | ${n(m.eldP99Ms, 1)} | ${n(m.eldMaxMs, 1)} | ${n(m.rowsWrittenPerSec)} | ${n(m.lastWriteMs, 1)} | ${n(m.otherLoadPct)} |`,
      );
    });
    for (const k of /** @type {const} */ (['sqlite', 'memory'])) {
      const f = hs[k];
      L.push(
        `| mean | **${k}** | ${n(f.updatesPerSec)} | ${n(f.withinBoundPerSec)} upd/s | | | ${n(f.latencyP99Ms)} | | ${n(f.serverCpuPct, 1)} | | ${n(f.eldP99Ms, 1)} | | ${n(f.rowsWrittenPerSec)} | | |`,
      );
    }
    L.push('');
  } else if (hs && hs.status !== 'not run') {
    L.push('## History cost on fan-out', '', `${hs.status}: ${hs.reason ?? ''}`, '');
  }

  // -------- candles (issue 14)
  const cs = r.candles;
  if (cs && cs.status === 'ok') {
    L.push(
      `## GET /api/candles over ${cs.days} day(s) of stored bars (${cs.symbols.join(', ')}; ${n(cs.requests)} sequential requests per interval, limit ${cs.limit})`,
    );
    L.push('');
    L.push(
      `bench/seed-history.mjs writes the bars of every interval through the gateway's own adapter; ours then runs on them with its feed at ${n(cs.feedRate)} ticks/s and nothing pruned. ` +
        `Each request is \`GET /api/candles/${cs.symbol}?interval=X&limit=${cs.limit}&to=T\` with T random in the seeded days (as far in as a full page allows), before anything the gateway folded itself, so every bar comes from the store; time = request sent to JSON parsed, on keep-alive connections, asking as a browser does (\`Accept-Encoding: gzip, deflate, br, zstd\`: the gateway answers brotli), after uncounted warm-up requests. Every answer is checked (count, order, all before T).`,
    );
    L.push('');
    L.push('| store | interval | bars per answer | encoding | p50 ms | p99 ms | max ms | mean ms |');
    L.push('| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |');
    /** @type {string[]} */
    const seeds = [];
    for (const [store, x] of Object.entries(cs.stores ?? {})) {
      if (!x || x.status !== 'ok') {
        L.push(`| ${store} | ${x?.status ?? 'not run'}: ${x?.reason ?? ''} |||||||`);
        continue;
      }
      for (const [i, t] of Object.entries(x.intervals)) {
        const tt = /** @type {any} */ (t);
        L.push(
          `| ${store} | ${i} | ${n(tt.barsMean)} | ${tt.encoding ?? '–'} | ${n(tt.p50Ms, 1)} | ${n(tt.p99Ms, 1)} | ${n(tt.maxMs, 1)} | ${n(tt.meanMs, 1)} |`,
        );
      }
      const sd = x.seed;
      seeds.push(
        `${store}: ${n(sd.rows)} bars in ${n(sd.seconds, 1)} s, ${n(sd.rowsPerSec)} rows/s (${n(sd.writeRowsPerSec)} inside write(), batches of ${n(sd.batch)})${sd.vacuumSeconds != null ? `, then VACUUM (ANALYZE) bars in ${n(sd.vacuumSeconds, 1)} s` : ''}; gateway CPU while answering ${n(x.serverCpuPct, 1)} %${x.postgresCpuPct != null ? `, PostgreSQL ${n(x.postgresCpuPct, 1)} %` : ''}, other load ${n(x.otherLoadPct)} %`,
      );
    }
    L.push('');
    if (seeds.length > 0) L.push(`Seeding: ${seeds.join('; ')}.`, '');
  } else if (cs && cs.status !== 'not run') {
    L.push('## GET /api/candles over stored bars', '', `${cs.status}: ${cs.reason ?? ''}`, '');
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
  const iw = im?.status === 'ok' ? im.withAlerts : undefined;
  if (iw)
    L.push(
      `| micro, with ${n(iw.alerts)} armed price alerts (the line above: the same book empty) | ${n(iw.ticksPerSecond)} | ${n(iw.held)} alerts held, ${n(iw.fired)} fired (re-arming, 0.05–10 % from the price), ${n(iw.ticksPerSecond / im.ticksPerSecond, 2)}× the empty book's |`,
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
