/**
 * Staged roll-outs on the reference management server: a release goes to the fleet in groups (for
 * example 1 %, 10 %, everyone; cumulative shares of the terminals, in a fixed order), each group
 * gets the `update` command only after every member of the group before it is healthy, and the
 * roll-out halts by itself when a group's failure rate passes the threshold. Healthy: the terminal's
 * heartbeat reports the new version and its health check passed. Failed: it reported the rollback
 * (the `update-rolled-back` alarm naming the version), refused the command, or was not healthy
 * within the time allowed.
 */
import { createHash } from 'node:crypto';
import type { ManagementStore } from './management-store.js';

export interface RolloutPlan {
  version: string;
  url: string;
  digest: string;
  terminals: readonly string[];
  /** Cumulative percentages, ascending, the last 100. */
  groups: readonly number[];
  /** A group whose share of failures is above this (0..1) halts the roll-out. */
  maxFailureRate: number;
  /** How long a terminal has, from its command, to be healthy. */
  healthyWithinMs: number;
}

export type MemberState = 'waiting' | 'commanded' | 'healthy' | 'failed';

export interface RolloutStatus {
  version: string;
  state: 'running' | 'halted' | 'done';
  /** The group being rolled out now (or where it halted). */
  group: number;
  reason: string | null;
  groups: { share: number; members: Record<string, MemberState> }[];
}

interface Member {
  terminal: string;
  state: MemberState;
  commandId?: string;
  commandedAt?: number;
  why?: string;
}

export class Rollout {
  private readonly groups: Member[][];
  private group = 0;
  private state: RolloutStatus['state'] = 'running';
  private reason: string | null = null;

  constructor(
    private readonly store: ManagementStore,
    private readonly plan: RolloutPlan,
    private readonly now: () => number = Date.now,
  ) {
    if (plan.groups.length === 0 || plan.groups.at(-1) !== 100) throw new Error('the last group must be 100 (everyone)');
    // A fixed order that does not follow the terminals' names, so group 1 is not always the same shop.
    const order = [...plan.terminals].sort((a, b) => hash(plan.version, a).localeCompare(hash(plan.version, b)));
    let from = 0;
    this.groups = plan.groups.map((pct) => {
      const to = Math.max(from + 1, Math.ceil((order.length * pct) / 100));
      const g = order.slice(from, Math.min(to, order.length)).map((terminal) => ({ terminal, state: 'waiting' as MemberState }));
      from = Math.min(to, order.length);
      return g;
    });
  }

  /** Looks at the fleet and moves the roll-out on; call it after heartbeats (or on a timer). */
  tick(): RolloutStatus {
    if (this.state !== 'running') return this.status();
    const members = this.groups[this.group]!;
    for (const m of members) if (m.state === 'waiting') this.command(m);
    for (const m of members) if (m.state === 'commanded') this.judge(m);
    const failed = members.filter((m) => m.state === 'failed').length;
    const rate = members.length ? failed / members.length : 0;
    if (rate > this.plan.maxFailureRate) {
      this.state = 'halted';
      this.reason = `group ${this.group + 1}: ${failed} of ${members.length} failed (${Math.round(rate * 100)} % > ${Math.round(this.plan.maxFailureRate * 100)} %)`;
      return this.status();
    }
    if (members.every((m) => m.state !== 'commanded' && m.state !== 'waiting')) {
      // Failures under the threshold stay in the status for the operator; the roll-out goes on.
      this.group++;
      while (this.group < this.groups.length && this.groups[this.group]!.length === 0) this.group++;
      if (this.group >= this.groups.length) {
        this.state = 'done';
        this.group = this.groups.length - 1;
      }
    }
    return this.status();
  }

  status(): RolloutStatus {
    return {
      version: this.plan.version,
      state: this.state,
      group: this.group,
      reason: this.reason,
      groups: this.groups.map((g, i) => ({ share: this.plan.groups[i]!, members: Object.fromEntries(g.map((m) => [m.terminal, m.state])) })),
    };
  }

  private command(m: Member): void {
    const c = this.store.queueCommand({ terminalId: m.terminal, type: 'update', args: { version: this.plan.version, url: this.plan.url, digest: this.plan.digest }, by: 'rollout' });
    m.commandId = c.id;
    m.commandedAt = this.now();
    m.state = 'commanded';
  }

  private judge(m: Member): void {
    const records = this.store.records();
    const rolledBack = records.alarms.some(
      (a) => a.terminalId === m.terminal && a.kind === 'update-rolled-back' && a.action === 'raise' && a.detail.includes(`release ${this.plan.version} `),
    );
    const cmd = m.commandId ? this.store.command(m.commandId) : undefined;
    if (rolledBack || cmd?.ok === false) {
      m.state = 'failed';
      m.why = rolledBack ? 'rolled back' : `refused: ${String(cmd?.result?.error)}`;
      return;
    }
    const hb = records.heartbeats.find((h) => h.terminalId === m.terminal)?.last as { version?: string; update?: { trial?: string } } | undefined;
    if (hb?.version === this.plan.version && hb.update?.trial === 'good') {
      m.state = 'healthy';
      return;
    }
    if (this.now() - (m.commandedAt ?? 0) > this.plan.healthyWithinMs) {
      m.state = 'failed';
      m.why = 'not healthy in time';
    }
  }
}

function hash(salt: string, s: string): string {
  return createHash('sha256').update(`${salt}\0${s}`).digest('hex');
}
