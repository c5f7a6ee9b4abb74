/**
 * Times as a person reads them, in the kiosk's configured zone and saying which: receipts, slips,
 * diag's test page, the launcher and the engineers' console all use this one formatter. It lives
 * under drivers/ because the printer's layout needs it and drivers may not import src/.
 */

/** China Standard Time: what a kiosk shows when its configuration names no zone. */
export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';

/**
 * 'YYYY-MM-DD HH:mm:ss UTC+08:00' in an IANA time zone (the configuration's `timeZone`),
 * independent of the host's own zone; the offset says which time it is.
 */
export function formatTime(at: Date, timeZone = DEFAULT_TIME_ZONE): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'longOffset',
  }).formatToParts(at);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  // 'GMT+08:00', or 'GMT' alone at offset zero.
  const offset = part('timeZoneName').replace(/^GMT/, '') || '+00:00';
  return `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}:${part('second')} UTC${offset}`;
}
