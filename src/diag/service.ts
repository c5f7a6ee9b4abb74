/**
 * `kiosk diag --config` while the kiosk service runs: the service holds every port, so opening
 * them here could only fail ("Cannot lock port"). When its control socket answers, each fitted
 * device is tested by the service itself (`device-test`), and judged by the health it reports.
 */
import { controlOnce } from '../control/client.js';
import type { ControlResponse } from '../control/protocol.js';
import type { DeviceIdentity, DeviceKind, DeviceStatus } from '../../drivers/types.js';
import type { DeviceReport, StepReport } from './checks.js';
import { healthProblem } from './health.js';

/** How the operator stops the service, for the messages that need it. */
export const STOP_SERVICE = 'sudo systemctl stop kiosk';

/** The running service's answer to `status`, or undefined when nothing listens on the socket. */
export async function serviceStatus(socket: string): Promise<ControlResponse | undefined> {
  try {
    return await controlOnce(socket, { cmd: 'status' });
  } catch {
    return undefined;
  }
}

/**
 * Tests every device the running service has fitted, one by one. `print`: the printer prints its
 * test page. The service never pays a coin for a test, so `--payout` does not apply here.
 */
export async function diagThroughService(
  socket: string,
  first: ControlResponse,
  print: boolean,
  progress?: { start(device: string, what: string): void; done(report: DeviceReport): void },
): Promise<DeviceReport[]> {
  const status = await booted(socket, first);
  const devices = status.ok ? ((status.devices ?? {}) as Record<string, DeviceStatus>) : {};
  const reports: DeviceReport[] = [];
  for (const name of Object.keys(devices)) {
    progress?.start(name, 'tested by the service');
    const started = Date.now();
    const answer = await controlOnce(socket, { cmd: 'device-test', device: name, print }).catch(
      (err: Error): ControlResponse => ({ ok: false, error: err.message }),
    );
    const ms = Date.now() - started;
    if (!answer.ok) {
      reports.push(report(name, devices[name]!, [{ name: 'service test', outcome: 'failed', detail: answer.error, ms }], ms));
      progress?.done(reports.at(-1)!);
      continue;
    }
    const s = (answer.status ?? devices[name]) as DeviceStatus;
    const identity = answer.identity as DeviceIdentity;
    const steps: StepReport[] = [{ name: 'service test', outcome: 'ok', detail: testDetail(answer), ms }];
    steps.push(healthStep(s));
    reports.push({ ...report(name, s, steps, ms), kind: identity.kind, identity });
    progress?.done(reports.at(-1)!);
  }
  return reports;
}

/** The terminal states in which the service is still opening its devices. */
const STARTING = new Set(['booting', 'recovering', 'selfTest']);
const BOOT_WAIT_MS = 30_000;

/** A service that has just started is still opening its devices: its answer then would say so. */
async function booted(socket: string, status: ControlResponse): Promise<ControlResponse> {
  const deadline = Date.now() + BOOT_WAIT_MS;
  while (status.ok && STARTING.has(String((status.terminal as { state?: string } | undefined)?.state)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    status = (await serviceStatus(socket)) ?? status;
  }
  return status;
}

function testDetail(answer: Record<string, unknown>): string {
  const parts: string[] = [];
  if (Array.isArray(answer.flags)) parts.push(answer.flags.length === 0 ? 'self-test: no flags' : `self-test flags: ${answer.flags.join(', ')}`);
  if (answer.statusCycle) parts.push(String(answer.statusCycle));
  if (answer.printed) parts.push('test page printed');
  return parts.length > 0 ? parts.join('; ') : 'answered';
}

function healthStep(s: DeviceStatus): StepReport {
  const wrong = healthProblem(s);
  return wrong ? { name: 'health', outcome: 'failed', detail: wrong, ms: 0 } : { name: 'health', outcome: 'ok', detail: `ok: ${s.detail}`, ms: 0 };
}

function report(name: string, status: DeviceStatus, steps: StepReport[], ms: number): DeviceReport {
  const kind = kindOf(name);
  return {
    name,
    kind,
    port: 'held by the kiosk service',
    identity: { kind, model: 'unknown' },
    status,
    facts: {},
    steps,
    ok: steps.every((s) => s.outcome !== 'failed'),
    ms,
  };
}

function kindOf(name: string): DeviceKind {
  if (name === 'validator') return 'bill-validator';
  if (name.startsWith('hopper:')) return 'coin-hopper';
  if (name === 'coin-acceptor' || name === 'printer' || name === 'card-reader' || name === 'payment-terminal') return name;
  if (name === 'scanner') return 'code-scanner';
  return 'bill-validator';
}
