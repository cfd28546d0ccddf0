// Formats the comparison table (Markdown, so it can be pasted into README.md).
import type { Metric } from './scenario';
import type { CommitLimit } from './commit-limit';
import type { MetricSummary, PerOpSummary, ScenarioSummary, SdkSummary, Spread } from './medians';

export function formatValue(m: Metric): string {
  const v = m.value;
  const digits = v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${v.toFixed(digits)} ${m.unit}`;
}

/** Who is faster and by how much; "≈" within 5 %. */
export function ratio(native: Metric, sdk: Metric): string {
  const nativeBetter = native.better === 'lower' ? sdk.value / native.value : native.value / sdk.value;
  if (!Number.isFinite(nativeBetter) || nativeBetter <= 0) return 'n/a';
  if (Math.abs(nativeBetter - 1) < 0.05) return '≈ same';
  const r = nativeBetter >= 1 ? nativeBetter : 1 / nativeBetter;
  const who = nativeBetter >= 1 ? 'dbos-native' : 'dbos-sdk';
  return `${who} ${r.toFixed(r < 10 ? 2 : r < 100 ? 1 : 0)}× faster`;
}

export interface Row {
  scenario: string;
  native: string;
  sdk: string;
  ratio: string;
}

/**
 * A workflow throughput as a share of the server's raw commit rate with as many clients: ops/s × nominal
 * commits per op / commit-limit tps.
 */
export function commitShare(m: Metric, limit: CommitLimit | undefined): string {
  const tps = m.commitLimit && limit?.tps[m.commitLimit.clients];
  if (!m.commitLimit || !tps) return '';
  return `, ${Math.round((100 * m.value * m.commitLimit.commitsPerOp) / tps)}% of limit`;
}

/**
 * With more than one round: the range of the values behind a median, and how many rounds they are if some
 * failed ("; runs 1490–1602", "; 2/3 runs: 1490–1602", "; 1/3 runs"). Nothing for a single round, so its table
 * looks as it always did.
 */
export function runsNote(v: Spread, rounds: number, fmt: (x: number) => string): string {
  if (rounds <= 1) return '';
  if (v.runs === 1) return `; 1/${rounds} runs`;
  const range = `${fmt(v.min)}–${fmt(v.max)}`;
  return v.runs === rounds ? `; runs ${range}` : `; ${v.runs}/${rounds} runs: ${range}`;
}

/** A number as formatValue prints it, without the unit (for ranges). */
function formatNumber(v: number): string {
  return v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0);
}

/**
 * One row per (scenario, metric), in registry order, from each SDK's medians; a missing side (error in every
 * round, not run) shows why. Ratios compare the medians.
 */
export function buildRows(order: readonly { id: string; title: string; note?: string }[], native?: SdkSummary, sdk?: SdkSummary, limit?: CommitLimit): Row[] {
  const rows: Row[] = [];
  for (const s of order) {
    const n = native?.scenarios.find((r) => r.id === s.id);
    const o = sdk?.scenarios.find((r) => r.id === s.id);
    if (!n && !o) continue;
    const names = [...new Set([...(n?.metrics ?? []), ...(o?.metrics ?? [])].map((m) => m.metric.name))];
    const title = s.note ? `${s.title} (*)` : s.title;
    const summaryOf = (r: ScenarioSummary | undefined, name: string): MetricSummary | undefined => r?.metrics.find((x) => x.metric.name === name);
    const cell = (r: ScenarioSummary | undefined, rounds: number, name: string): string => {
      if (!r) return 'not run';
      if (r.ok === 0) return 'ERROR';
      const m = summaryOf(r, name);
      return m ? `${formatValue(m.metric)} (n=${m.metric.samples}${commitShare(m.metric, limit)}${runsNote(m.value, rounds, formatNumber)})` : '–';
    };
    const nr = native?.rounds ?? 0;
    const or = sdk?.rounds ?? 0;
    if (names.length === 0) {
      rows.push({ scenario: title, native: cell(n, nr, ''), sdk: cell(o, or, ''), ratio: '' });
      continue;
    }
    for (const name of names) {
      const nm = summaryOf(n, name)?.metric;
      const om = summaryOf(o, name)?.metric;
      rows.push({ scenario: `${title}: ${name}`, native: cell(n, nr, name), sdk: cell(o, or, name), ratio: nm && om ? ratio(nm, om) : '' });
    }
  }
  return rows;
}

export function renderMarkdown(rows: readonly Row[], headers: Row): string {
  const all = [headers, ...rows];
  const widths = (['scenario', 'native', 'sdk', 'ratio'] as const).map((k) => Math.max(...all.map((r) => [...r[k]].length)));
  const line = (r: Row): string =>
    `| ${(['scenario', 'native', 'sdk', 'ratio'] as const).map((k, i) => r[k] + ' '.repeat(widths[i] - [...r[k]].length)).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(headers), sep, ...rows.map(line)].join('\n');
}

/** The scenarios' notes, printed under the table (their rows are marked (*)). */
export function renderNotes(order: readonly { title: string; note?: string }[]): string {
  return order
    .filter((s) => s.note)
    .map((s) => `(*) ${s.title}: ${s.note}`)
    .join('\n');
}

/** "dbos-native 2.50× fewer" for two per-operation costs (lower is better). */
function costRatio(native: number, sdk: number, word: string): string {
  if (!(native > 0) || !(sdk > 0)) return '';
  const r = sdk / native;
  if (Math.abs(r - 1) < 0.05) return '≈ same';
  const x = r >= 1 ? r : 1 / r;
  return `${r >= 1 ? 'dbos-native' : 'dbos-sdk'} ${x.toFixed(x < 10 ? 2 : 1)}× ${word}`;
}

/** A cost per operation as the per-operation table prints it. */
function formatCost(v: number): string {
  return v.toFixed(v < 10 ? 2 : 1);
}

/**
 * Costs per operation (ScenarioResult.ops): Postgres statements the SDK's database received and CPU time of the
 * SDK's process (JS and native threads; not Postgres's), over the whole scenario including warm-up; each the
 * median over the rounds, with the median operation count.
 */
export function buildPerOpRows(order: readonly { id: string; title: string }[], native?: SdkSummary, sdk?: SdkSummary): Row[] {
  const rows: Row[] = [];
  const perOp = (summary: SdkSummary | undefined, id: string): PerOpSummary | undefined => summary?.scenarios.find((r) => r.id === id)?.perOp;
  const fmt = (v: Spread | undefined, p: PerOpSummary | undefined, rounds: number): string =>
    v === undefined ? 'n/a' : `${formatCost(v.median)} (ops=${p?.ops.median ?? 0}${runsNote(v, rounds, formatCost)})`;
  for (const s of order) {
    const n = perOp(native, s.id);
    const o = perOp(sdk, s.id);
    if (!n && !o) continue;
    // A row where at least one side has the cost: CPU always (every PerOpSummary has it), statements and write
    // transactions only where pg_stat_statements was available.
    const add = (cost: string, word: string, pick: (p: PerOpSummary) => Spread | undefined): void => {
      const nv = n && pick(n);
      const ov = o && pick(o);
      if (nv === undefined && ov === undefined) return;
      rows.push({
        scenario: `${s.title}: ${cost}`,
        native: fmt(nv, n, native?.rounds ?? 0),
        sdk: fmt(ov, o, sdk?.rounds ?? 0),
        ratio: nv && ov ? costRatio(nv.median, ov.median, word) : '',
      });
    };
    add('Postgres statements/op', 'fewer', (p) => p.statements);
    add('write transactions/op', 'fewer', (p) => p.writeXacts);
    add('app CPU ms/op', 'less', (p) => p.cpuMs);
    add('Postgres CPU ms/op', 'less', (p) => p.serverCpuMs);
  }
  return rows;
}
