import type { Command } from 'commander';

/**
 * `kiosk-sim release`: the operator's release tool. It lives in the simulator (development side)
 * so that the signing keys' code and the packer are never installed on a board, which holds only
 * the root metadata (`update.trustedRoot`).
 */
export function registerReleaseCommand(program: Command): void {
  const release = program.command('release').description('signed release bundles for A/B updates (keys, pack, publish)');
  release
    .command('keys')
    .description('make the ed25519 keys of the four TUF roles and root.json (the file a kiosk trusts)')
    .option('--dir <dir>', 'where to write them (keep it off the kiosks)', 'var/release-keys')
    .action(async (o: { dir: string }) => {
      const { makeKeys } = await import('./keys.js');
      console.log(`keys and ${makeKeys(o.dir).root} written`);
    });
  release
    .command('pack')
    .description('pack the built tree (npm run build) with its production dependencies into one tar with its manifest')
    .requiredOption('--release <version>', 'the release version, which names its folder on the kiosk (--version prints the tool version)')
    .option('--out <file>', 'the bundle file (default kiosk-<release>.tar)')
    .option('--from <dir>', 'the built tree', '.')
    .option('--include <paths>', 'comma-separated paths instead of the board default (dist/src, dist/drivers, dist/states, dist/ui, package.json, LICENSE)')
    .option('--no-deps', 'leave node_modules out (test bundles only)')
    .option('--arch <arch>', "the board's architecture (default this machine's)")
    .option('--node <major>', "the board's Node.js major version (default this machine's)")
    .action(async (o: { release: string; out?: string; from: string; include?: string; deps: boolean; arch?: string; node?: string }) => {
      const { packRelease } = await import('./pack.js');
      const r = await packRelease({
        from: o.from,
        version: o.release,
        out: o.out ?? `kiosk-${o.release}.tar`,
        deps: o.deps,
        ...(o.include ? { include: o.include.split(',') } : {}),
        ...(o.arch ? { arch: o.arch } : {}),
        ...(o.node ? { node: o.node } : {}),
      });
      console.log(`${r.file}: ${r.bytes} bytes, ${Object.keys(r.manifest.files).length} files, ${r.manifest.arch}/node${r.manifest.node}, journal schema ${r.manifest.targetSchema} (additive from ${r.manifest.additiveFrom})`);
    });
  release
    .command('publish')
    .description('add bundles to an update repository and sign new targets, snapshot and timestamp metadata')
    .argument('<bundles...>')
    .option('--keys <dir>', 'the release keys', 'var/release-keys')
    .option('--repo <dir>', 'the update repository (what the reference management server serves under /v1/updates/)', 'var/updates')
    .option('--timestamp-days <n>', 'how long the timestamp is valid: a kiosk refuses older metadata', (v) => Number(v), 1)
    .action(async (bundles: string[], o: { keys: string; repo: string; timestampDays: number }) => {
      const { publishRelease } = await import('./publish.js');
      for (const p of await publishRelease({ keysDir: o.keys, repo: o.repo, bundles, timestampDays: o.timestampDays })) {
        console.log(`${p.version}: ${p.url} sha256 ${p.sha256}`);
      }
    });
  program
    .command('updates')
    .description('a technician updates the simulated kiosk (A/B, signed) from a prompt and watches a broken release roll back')
    .option('--dir <dir>', 'folder for the keys, the repository, the A/B root and the simulated world', 'var/updates-demo')
    .option('--first <version>', 'the release installed first', '1.0.0')
    .action(async (o: { dir: string; first: string }) => {
      const { runUpdateDemo } = await import('../update/demo.js');
      await runUpdateDemo(o.dir, o.first);
      process.exit(0);
    });
}
