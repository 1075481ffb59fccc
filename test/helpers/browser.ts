/**
 * A page in a real browser, for the HTML reports' tests: headless Chromium driven with child_process (no
 * puppeteer), its DOM and console, a screenshot decoded here with node:zlib, and what to look for in them (a
 * picture that is not blank, markup that fetches nothing, chart coordinates that are numbers).
 *
 * Chromium is required, not optional: findChromium() throws (a test fails, never skips) when it is missing, with
 * the command that installs it. `npm test` first runs test/ensure-chromium.sh, which installs it where it can.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { expect } from 'vitest';

// Started cold each time on a possibly loaded 2-core machine: a few seconds is normal, a minute is a hang.
export const BROWSER_TIMEOUT_MS = 60_000;

/** The Chromium to drive: $CHROMIUM, else Debian's /usr/bin/chromium, else one on PATH. */
export function findChromium(): string {
  const fromEnv = process.env.CHROMIUM;
  if (fromEnv) {
    if (executable(fromEnv)) return fromEnv;
    throw new Error(
      `CHROMIUM=${fromEnv} is not an executable file: point it at a Chromium or Chrome binary.`,
    );
  }
  const names = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
  const onPath = (process.env.PATH ?? '').split(delimiter).flatMap((dir) => names.map((n) => join(dir, n)));
  const mac = '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome';
  const found = ['/usr/bin/chromium', ...onPath, mac].find(executable);
  if (found) return found;
  throw new Error(
    'headless Chromium not found (looked at $CHROMIUM, /usr/bin/chromium, chromium-browser on PATH): ' +
      'install it with `sudo apt-get install -y --no-install-recommends chromium`, or set CHROMIUM=/path/to/chrome.',
  );
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** One headless Chromium run with `args` (`--dump-dom URL`, `--screenshot=FILE URL`), in a profile of its own. */
export function chromium(
  binary: string,
  profile: string,
  args: string[],
): Promise<{ stdout: string; stderr: string }> {
  const flags = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--no-first-run',
    '--disable-component-update',
    '--hide-scrollbars',
    // A profile of its own: no lock shared with a browser someone has open, nothing left in $HOME.
    `--user-data-dir=${profile}`,
    // The page's console on stderr, so a resource the page's policy blocked shows up as a line.
    '--enable-logging=stderr',
    '--v=0',
  ];
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      [...flags, ...args],
      { timeout: BROWSER_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`${binary} ${args.join(' ')} failed: ${error.message}\n${stderr.slice(-2000)}`));
        else resolve({ stdout, stderr });
      },
    );
  });
}

export interface Rendered {
  /** The page as written, its file:// URL, the DOM after parsing, and the browser's console (stderr). */
  page: string;
  url: string;
  dom: string;
  consoleLog: string;
  /** The screenshot's path: a PNG of `window` pixels. */
  screenshot: string;
}

/**
 * Writes `html` to `dir/NAME.html`, then has Chromium dump its DOM and take a screenshot of `window`.
 * The two runs go one after the other: two cold browsers at once on a 2-core machine only slow each other down.
 * Allow 2 × BROWSER_TIMEOUT_MS for it.
 */
export async function renderPage(
  html: string,
  options: { dir: string; name: string; window: { width: number; height: number }; binary?: string },
): Promise<Rendered> {
  const { dir, name, window } = options;
  const binary = options.binary ?? findChromium();
  const page = join(dir, `${name}.html`);
  writeFileSync(page, html);
  const url = pathToFileURL(page).href;
  const dumped = await chromium(binary, join(dir, `profile-${name}-dom`), ['--dump-dom', url]);
  const screenshot = join(dir, `${name}.png`);
  await chromium(binary, join(dir, `profile-${name}-shot`), [
    `--screenshot=${screenshot}`,
    `--window-size=${window.width},${window.height}`,
    url,
  ]);
  return { page, url, dom: dumped.stdout, consoleLog: dumped.stderr, screenshot };
}

// ── The screenshot ─────────────────────────────────────────────────────────────────────────────────────────

export interface Png {
  width: number;
  height: number;
  channels: number;
  pixels: Buffer;
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Decodes an 8-bit, non-interlaced PNG (what Chromium writes): chunks, inflate, then undo each row's filter. */
export function decodePng(file: Buffer): Png {
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  for (let at = 8; at < file.length; ) {
    const length = file.readUInt32BE(at);
    const kind = file.toString('latin1', at + 4, at + 8);
    const body = file.subarray(at + 8, at + 8 + length);
    if (kind === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colourType, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colourType!] ?? 0;
      if (depth !== 8 || interlace !== 0 || channels === 0) {
        throw new Error(`unsupported PNG: depth ${depth}, colour type ${colourType}, interlace ${interlace}`);
      }
    } else if (kind === 'IDAT') data.push(body);
    else if (kind === 'IEND') break;
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? pixels[row + x - channels]! : 0;
      const up = y > 0 ? pixels[row - stride + x]! : 0;
      const upLeft = x >= channels && y > 0 ? pixels[row - stride + x - channels]! : 0;
      const predictor =
        filter === 1
          ? left
          : filter === 2
            ? up
            : filter === 3
              ? (left + up) >> 1
              : filter === 4
                ? paeth(left, up, upLeft)
                : 0;
      pixels[row + x] = (raw[src + x]! + predictor) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** How many pixels have each exact RGB colour (alpha ignored). */
export function colourCounts(png: Png): Map<number, number> {
  const counts = new Map<number, number>();
  const { pixels, channels } = png;
  for (let i = 0; i < pixels.length; i += channels) {
    const rgb =
      channels >= 3 ? (pixels[i]! << 16) | (pixels[i + 1]! << 8) | pixels[i + 2]! : pixels[i]! * 0x010101;
    counts.set(rgb, (counts.get(rgb) ?? 0) + 1);
  }
  return counts;
}

/**
 * What tells a drawn page from a blank one: how many distinct colours (text anti-aliasing alone gives dozens) and
 * what share of the pixels is pure white. A page that failed to render is one colour; the light theme is mostly
 * white, never all of it.
 */
export function pixelStats(png: Png): { counts: Map<number, number>; distinct: number; whiteShare: number } {
  const counts = colourCounts(png);
  return {
    counts,
    distinct: counts.size,
    whiteShare: (counts.get(0xffffff) ?? 0) / (png.width * png.height),
  };
}

// ── The markup ─────────────────────────────────────────────────────────────────────────────────────────────

/** Everything in the markup that would make a browser fetch something: none may remain. */
export function noNetwork(html: string): string[] {
  const patterns = [
    /\b(?:src|href|srcset|poster|data|action|xlink:href)\s*=\s*["']?\s*(?:https?:)?\/\/[^"'\s>]*/gi,
    /url\(\s*["']?\s*(?:https?:)?\/\/[^)]*\)/gi,
    /@import\b[^;]*/gi,
    /<(?:script|link|iframe|object|embed|img)\b[^>]*>/gi,
  ];
  return patterns.flatMap((p) => html.match(p) ?? []);
}

/** Attributes that carry coordinates: a NaN or an Infinity in one of them is a chart drawn wrong. */
const GEOMETRY = /\s(x|y|x1|y1|x2|y2|cx|cy|r|width|height|points|viewBox|transform)="([^"]*)"/g;

/** Every coordinate-carrying attribute value in the markup, as written. */
export function geometryValues(svg: string): string[] {
  return [...svg.matchAll(GEOMETRY)].map((m) => m[2]!);
}

/** The points of each `<polyline>`, flattened: [x1, y1, x2, y2, ...]. */
export function polylinePoints(markup: string): number[][] {
  return [...markup.matchAll(/<polyline[^>]*\spoints="([^"]*)"/g)].map((m) =>
    m[1]!
      .trim()
      .split(/[\s,]+/)
      .map(Number),
  );
}

/**
 * The screenshot is a real picture of a page in the light theme: a PNG of the window's size, many colours,
 * neither blank nor dark. Returns its colour counts for the page's own checks (which parts were drawn).
 */
export function expectPageScreenshot(
  path: string,
  window: { width: number; height: number },
): Map<number, number> {
  expect(existsSync(path)).toBe(true);
  const file = readFileSync(path);
  expect(file.subarray(0, 8).equals(PNG_SIGNATURE), 'PNG signature').toBe(true);
  const png = decodePng(file);
  expect(png).toMatchObject(window);
  const { counts, distinct, whiteShare } = pixelStats(png);
  expect(distinct, 'distinct colours').toBeGreaterThan(50);
  expect(whiteShare, 'share of white: not a blank page').toBeLessThan(0.97);
  expect(whiteShare, 'share of white: the light theme').toBeGreaterThan(0.4);
  return counts;
}

/** Nothing in the markup to fetch, the page's policy forbids fetching, and the browser refused nothing. */
export function expectNoNetwork(html: string, consoleLog: string, csp: string): void {
  expect(noNetwork(html)).toEqual([]);
  expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="${csp}">`);
  // Chromium logs each request the policy refused as a console line.
  expect(consoleLog).not.toMatch(/Content Security Policy|net::ERR_/);
}
