/**
 * The kiosk's QR code for the screen: the `qrcode` library computes the modules, and this draws
 * them as one SVG path in a data URL (the screen's policy allows `data:` images), so the browser
 * needs no script of its own to show it. The last few are kept: the view is rebuilt on every change.
 */
import QRCode from 'qrcode';

const cache = new Map<string, string>();
const KEEP = 4;
/** The quiet zone around the code, in modules, as the QR standard asks. */
const QUIET = 4;

export function qrImage(text: string): string {
  const known = cache.get(text);
  if (known) return known;
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const n = modules.size;
  let path = '';
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) if (modules.get(y, x)) path += `M${x + QUIET} ${y + QUIET}h1v1h-1z`;
  }
  const size = n + 2 * QUIET;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges">` +
    `<rect width="${size}" height="${size}" fill="#fff"/><path fill="#000" d="${path}"/></svg>`;
  const url = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
  if (cache.size >= KEEP) cache.delete(cache.keys().next().value!);
  cache.set(text, url);
  return url;
}
