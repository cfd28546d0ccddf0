// Formats the comparison table (Markdown, so it can be pasted into README.md).
import type { Metric } from './scenario';
import type { ChildReport, ScenarioResult } from './protocol';
import type { CommitLimit } from './commit-limit';

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

/** One row per (scenario, metric), in registry order; a missing side (error, not run) shows why. */
export function buildRows(
  order: readonly { id: string; title: string; note?: string }[],
  native?: ChildReport,
  sdk?: ChildReport,
  limit?: CommitLimit,
): Row[] {
  const rows: Row[] = [];
  for (const s of order) {
    const n = native?.scenarios.find((r) => r.id === s.id);
    const o = sdk?.scenarios.find((r) => r.id === s.id);
    if (!n && !o) continue;
    const names = [...new Set([...(n?.metrics ?? []), ...(o?.metrics ?? [])].map((m) => m.name))];
    const title = s.note ? `${s.title} (*)` : s.title;
    const cell = (r: typeof n, name: string): string => {
      if (!r) return 'not run';
      if (r.error) return 'ERROR';
      const m = r.metrics.find((x) => x.name === name);
      return m ? `${formatValue(m)} (n=${m.samples}${commitShare(m, limit)})` : '–';
    };
    if (names.length === 0) {
      rows.push({ scenario: title, native: cell(n, ''), sdk: cell(o, ''), ratio: '' });
      continue;
    }
    for (const name of names) {
      const nm = n?.error ? undefined : n?.metrics.find((x) => x.name === name);
      const om = o?.error ? undefined : o?.metrics.find((x) => x.name === name);
      rows.push({ scenario: `${title}: ${name}`, native: cell(n, name), sdk: cell(o, name), ratio: nm && om ? ratio(nm, om) : '' });
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

/**
 * Costs per operation (ScenarioResult.ops): Postgres statements the SDK's database received and CPU time of the
 * SDK's process (JS and native threads; not Postgres's), over the whole scenario including warm-up.
 */
export function buildPerOpRows(order: readonly { id: string; title: string }[], native?: ChildReport, sdk?: ChildReport): Row[] {
  const rows: Row[] = [];
  const usable = (r: ScenarioResult | undefined): r is ScenarioResult => r !== undefined && !r.error && r.ops > 0;
  for (const s of order) {
    const n = native?.scenarios.find((r) => r.id === s.id);
    const o = sdk?.scenarios.find((r) => r.id === s.id);
    if (!usable(n) && !usable(o)) continue;
    const stmts = (r: ScenarioResult | undefined): number | undefined => (usable(r) && r.statements ? r.statements.total / r.ops : undefined);
    const cpu = (r: ScenarioResult | undefined): number | undefined => (usable(r) ? (r.cpuUserMs + r.cpuSystemMs) / r.ops : undefined);
    const fmt = (v: number | undefined, r: ScenarioResult | undefined): string => (v === undefined ? 'n/a' : `${v.toFixed(v < 10 ? 2 : 1)} (ops=${r?.ops ?? 0})`);
    const ns = stmts(n);
    const os = stmts(o);
    if (ns !== undefined || os !== undefined) {
      rows.push({ scenario: `${s.title}: Postgres statements/op`, native: fmt(ns, n), sdk: fmt(os, o), ratio: ns && os ? costRatio(ns, os, 'fewer') : '' });
    }
    const xacts = (r: ScenarioResult | undefined): number | undefined => (usable(r) && r.writeXacts !== undefined ? r.writeXacts / r.ops : undefined);
    const nx = xacts(n);
    const ox = xacts(o);
    if (nx !== undefined || ox !== undefined) {
      rows.push({ scenario: `${s.title}: write transactions/op`, native: fmt(nx, n), sdk: fmt(ox, o), ratio: nx && ox ? costRatio(nx, ox, 'fewer') : '' });
    }
    const nc = cpu(n);
    const oc = cpu(o);
    rows.push({ scenario: `${s.title}: app CPU ms/op`, native: fmt(nc, n), sdk: fmt(oc, o), ratio: nc && oc ? costRatio(nc, oc, 'less') : '' });
  }
  return rows;
}
