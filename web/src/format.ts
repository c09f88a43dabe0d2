const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** Decimal units, as registries and `docker images` show sizes. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${UNITS[unit]}`;
}

const AGES: Array<[number, string]> = [
  [365 * 24 * 3600, 'year'],
  [30 * 24 * 3600, 'month'],
  [7 * 24 * 3600, 'week'],
  [24 * 3600, 'day'],
  [3600, 'hour'],
  [60, 'minute'],
];

export function formatAge(time: number | string | null | undefined, now = Date.now()): string {
  const ms = typeof time === 'string' ? Date.parse(time) : time;
  if (!ms || !Number.isFinite(ms) || ms <= 0) return 'never';
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  for (const [size, name] of AGES) {
    if (seconds >= size) {
      const n = Math.floor(seconds / size);
      return `${n} ${name}${n === 1 ? '' : 's'} ago`;
    }
  }
  return 'just now';
}

export function formatTime(time: number | string | null | undefined): string {
  if (time === null || time === undefined || time === '') return '—';
  const date = new Date(time);
  return Number.isNaN(date.getTime()) ? String(time) : date.toLocaleString();
}

export const shortDigest = (digest: string) => {
  const colon = digest.indexOf(':');
  return colon === -1 ? digest.slice(0, 12) : `${digest.slice(0, colon + 1)}${digest.slice(colon + 1, colon + 13)}`;
};

export const platformText = (p: { os: string; architecture: string; variant?: string }) =>
  `${p.os}/${p.architecture}${p.variant ? '/' + p.variant : ''}`;
