/**
 * The median the benchmarks report: the middle value, or the mean of the middle two for an even
 * count (the upper of two would favour whichever side had its slower round second).
 * @module
 */
export function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y), m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
