/**
 * One self-contained HTML page for reports (`npm run check -- --html FILE`, the showdown): inline CSS, inline
 * SVG, nothing fetched. The Content-Security-Policy makes that a property of the page, not a promise: a browser
 * refuses any script, font, stylesheet or image URL someone adds later, so the page opens the same offline, on a
 * projector laptop, or from a CI artifact.
 */

/** Text safe inside HTML or SVG, in element content and in quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * A table cell: text (escaped), a number (right-aligned), or markup the caller built and escaped (`numeric`
 * right-aligns it too: a figure already formatted, '1.93', '45%').
 */
export type Cell = string | number | { html: string; numeric?: boolean };

export function htmlTable(headers: string[], rows: Cell[][]): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map(cell).join('')}</tr>`).join('\n');
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

/** A figure already formatted ('1.93', '45%', '–'): right-aligned, so a column's points line up. */
export function numericCell(text: string): Cell {
  return { html: escapeHtml(text), numeric: true };
}

function cell(value: Cell): string {
  if (typeof value === 'number') return `<td class="num">${escapeHtml(String(value))}</td>`;
  if (typeof value === 'string') return `<td>${escapeHtml(value)}</td>`;
  return value.numeric ? `<td class="num">${value.html}</td>` : `<td>${value.html}</td>`;
}

export interface PageSection {
  /** Plain text; escaped. */
  heading: string;
  /** Markup (tables, charts, paragraphs); the caller escapes what it puts in. */
  body: string;
}

export interface PageOptions {
  title: string;
  subtitle?: string;
  sections: PageSection[];
}

/** When a report was made, to the minute and in UTC: a page read in another time zone says the same. */
export function stamp(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The whole page as one string: write it to a file and open it anywhere. */
export function htmlPage({ title, subtitle, sections }: PageOptions): string {
  const body = sections
    .map((s) => `<section>\n<h2>${escapeHtml(s.heading)}</h2>\n${s.body}\n</section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
${subtitle ? `<p class="subtitle">${escapeHtml(subtitle)}</p>` : ''}
</header>
<main>
${body}
</main>
</body>
</html>
`;
}

/** Nothing may load but the page's own inline styles and data: images. */
export const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

// System fonts only (a web font would be a request). Sizes for a projector: 18 px body, charts full width.
// The charts colour themselves with SVG attributes so they also work outside this page; the dark theme
// overrides those, since CSS wins over presentation attributes.
const CSS = `
:root { color-scheme: light dark; --fg: #1a1a1a; --muted: #5b5b5b; --bg: #ffffff; --panel: #f6f7f9;
  --line: #d5d8dd; --pass: #1a7f37; --fail: #c62828; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 18px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header, main { max-width: 1180px; margin: 0 auto; padding: 0 28px; }
header { padding-top: 28px; }
h1 { font-size: 2rem; margin: 0 0 4px; }
h2 { font-size: 1.45rem; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.15rem; margin: 24px 0 8px; }
.subtitle { color: var(--muted); margin: 0 0 8px; }
p { margin: 8px 0; }
code { font: 0.92em ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
table { border-collapse: collapse; margin: 8px 0 16px; min-width: 50%; }
th, td { text-align: left; padding: 6px 14px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; color: #fff; font-weight: 700;
  font-size: 0.85em; letter-spacing: 0.04em; }
.badge.pass { background: var(--pass); }
.badge.fail { background: var(--fail); }
.badge.skipped { background: #6b7280; }
.facts { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 10px; margin: 12px 0; }
@media (max-width: 800px) { .facts { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
.fact { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 6px 14px; }
.fact .label { display: block; color: var(--muted); font-size: 0.8em; text-transform: uppercase;
  letter-spacing: 0.05em; }
.fact .value { display: block; font-weight: 600; font-size: 1.1em; overflow-wrap: anywhere; }
.fact .detail { display: block; color: var(--muted); font-size: 0.8em; }
.note { color: var(--muted); }
.warning { border-left: 4px solid #b26b00; padding: 6px 14px; background: var(--panel); }
.reason { border-left: 4px solid var(--fail); padding: 6px 14px; background: var(--panel); }
figure { margin: 12px 0 20px; }
figcaption { color: var(--muted); font-size: 0.9em; margin-top: 4px; }
details { margin: 12px 0; }
summary { cursor: pointer; font-weight: 600; font-size: 1.05rem; margin: 8px 0; }
svg.chart { display: block; width: 100%; max-width: 1000px; height: auto; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e8e8e8; --muted: #a8a8a8; --bg: #16181c; --panel: #22252b; --line: #3a3f47; }
  svg.chart .chart-bg { fill: var(--bg); }
  svg.chart text { fill: var(--fg); }
  svg.chart .grid line { stroke: var(--line); }
  svg.chart .axis line, svg.chart .axis path { stroke: var(--muted); }
  svg.chart .lane-band { fill: var(--panel); }
  svg.chart .span { stroke: var(--bg); }
}
`;
