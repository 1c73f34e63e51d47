import { milliseconds } from '@/components/rotation/time';

// Spans of the history: seconds and minutes as the rotation pages say them, hours and days beyond.

export function spanInWords(ms: number): string {
  if (ms < 3_600_000) return milliseconds(ms);
  const minutes = Math.round(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  return days > 0 ? `${days} d ${hours} h` : `${hours} h ${rest} min`;
}

export function percent(share: number): string {
  if (share === 1) return '100%';
  // Never round a bad day up to a perfect one.
  return `${(Math.floor(share * 1000) / 10).toFixed(1)}%`;
}
