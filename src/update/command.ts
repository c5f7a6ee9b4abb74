import type { Command } from 'commander';

/**
 * `kiosk update`: the board's side of A/B updates that runs outside the service. `rollback-check`
 * is what the systemd units run (ExecStartPre with --start, OnFailure with --failed, the timer with
 * neither); it exits 3 when it rolled back, 0 otherwise, 1 on an error. `status` prints the layout.
 */
export function registerUpdateCommand(program: Command): void {
  const cmd = program.command('update').description('A/B software updates on the board (the update itself comes as a remote command)');
  cmd
    .command('rollback-check')
    .description('bring the previous release back if the one on trial failed (what the systemd units run)')
    .option('--root <dir>', 'the A/B root', process.env.KIOSK_ROOT ?? '/opt/kiosk')
    .option('--start', 'a start of the service is about to happen: count it')
    .option('--failed', 'the service failed for good (the start limit was hit)')
    .action(async (opts: { root: string; start?: boolean; failed?: boolean }) => {
      const { ReleaseLayout, rollbackCheck } = await import('./index.js');
      try {
        const out = rollbackCheck(new ReleaseLayout(opts.root), { start: opts.start ?? false, failed: opts.failed ?? false });
        console.log(JSON.stringify(out));
        process.exit(out.action === 'rolled-back' ? 3 : 0);
      } catch (e) {
        console.error(`kiosk update rollback-check: ${(e as Error).message}`);
        process.exit(1);
      }
    });
  cmd
    .command('status')
    .description('the releases installed, the current and previous ones, a trial or a rollback')
    .option('--root <dir>', 'the A/B root', process.env.KIOSK_ROOT ?? '/opt/kiosk')
    .action(async (opts: { root: string }) => {
      const { readdirSync, existsSync } = await import('node:fs');
      const { ReleaseLayout } = await import('./index.js');
      const layout = new ReleaseLayout(opts.root);
      const releases = existsSync(layout.releases) ? readdirSync(layout.releases).filter((n) => !n.startsWith('.')) : [];
      console.log(JSON.stringify({ root: opts.root, releases, current: layout.linked('current'), previous: layout.linked('previous'), ...layout.state() }, null, 2));
    });
}
