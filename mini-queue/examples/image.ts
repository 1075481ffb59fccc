/**
 * A grayscale image as bytes, generated (no files, no network): a gradient with rings, so a blur visibly changes it.
 */
export function generateImage(width: number, height: number, seed = 1): Uint8Array {
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const ring = Math.sin(Math.hypot(x - width / 2, y - height / 2) / (4 + seed)) * 60;
      pixels[y * width + x] = Math.max(
        0,
        Math.min(255, Math.round(((x + y) * 255) / (width + height) + ring)),
      );
    }
  }
  return pixels;
}

/** Box blur, radius r, done as two separable passes: O(pixels), pure CPU. */
export function boxBlur(src: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  const tmp = new Uint8Array(src.length);
  const out = new Uint8Array(src.length);
  pass(src, tmp, width, height, radius, 1, width);
  pass(tmp, out, height, width, radius, width, 1);
  return out;
}

// One 1-D blur along each line: `step` walks along the line, `stride` jumps between lines.
function pass(
  src: Uint8Array,
  dst: Uint8Array,
  length: number,
  lines: number,
  r: number,
  step: number,
  stride: number,
) {
  for (let line = 0; line < lines; line++) {
    const base = line * stride;
    let sum = 0;
    for (let i = -r; i <= r; i++) sum += src[base + Math.min(length - 1, Math.max(0, i)) * step]!;
    for (let i = 0; i < length; i++) {
      dst[base + i * step] = Math.round(sum / (2 * r + 1));
      sum += src[base + Math.min(length - 1, i + r + 1) * step]! - src[base + Math.max(0, i - r) * step]!;
    }
  }
}

/** Nearest-neighbour downscale to size x size. */
export function downscale(src: Uint8Array, width: number, height: number, size: number): Uint8Array {
  const out = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      out[y * size + x] = src[Math.floor((y * height) / size) * width + Math.floor((x * width) / size)]!;
    }
  }
  return out;
}

/** FNV-1a: a short fingerprint, so a result can be compared without shipping the pixels. */
export function checksum(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0');
}
