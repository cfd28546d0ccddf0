// Formats the comparison table (Markdown, so it can be pasted into README.md).
import type { Metric } from './scenario';
import type { ChildReport } from './protocol';

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

/** One row per (scenario, metric), in registry order; a missing side (error, not run) shows why. */
export function buildRows(order: readonly { id: string; title: string; note?: string }[], native?: ChildReport, sdk?: ChildReport): Row[] {
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
      return m ? `${formatValue(m)} (n=${m.samples})` : '–';
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
