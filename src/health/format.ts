/**
 * Number formats the health model's sentences and every view share.
 * @module
 */

/** Formats H/s with a unit (e.g. `1.23 kH/s`). */
export function formatHashrate(hs: number | null | undefined): string {
  if (hs === null || hs === undefined) return "-";
  const units = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s"];
  let v = hs;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v >= 100 || i === 0 ? (i === 0 ? 1 : 0) : 2)} ${units[i]}`;
}
