/**
 * A server certificate the kiosk does not trust is not a network fault that passes by itself: the
 * kiosk may be talking to an impostor, or the operator changed certificates without updating the
 * pinned CA. It is raised as an alarm while it lasts.
 */
import type { AlarmSink } from '../alarms/sink.js';
import type { BusinessAdapter, LinkDown } from './adapter.js';

export const CERTIFICATE_ALARM = { kind: 'server-certificate', source: 'business-link' } as const;

/** Subscribes to the adapter's link events; returns the unsubscribe. */
export function watchServerCertificate(adapter: Pick<BusinessAdapter, 'on' | 'off'>, alarms: AlarmSink): () => void {
  let raised = false;
  const onDown = (d: LinkDown): void => {
    if (d.reason !== 'server-certificate') return;
    raised = true;
    alarms.raise({ ...CERTIFICATE_ALARM, severity: 'critical', detail: `server certificate refused: ${d.detail}` });
  };
  const onUp = (): void => {
    if (!raised) return;
    raised = false;
    alarms.clear(CERTIFICATE_ALARM.kind, CERTIFICATE_ALARM.source);
  };
  adapter.on('down', onDown);
  adapter.on('up', onUp);
  return () => {
    adapter.off('down', onDown);
    adapter.off('up', onUp);
  };
}
