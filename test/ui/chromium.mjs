// How the UI tests start Debian's Chromium: shared by the per-file launch (browser.ts) and the one
// browser server a whole `tap` run shares (browser-server.mjs).

/** Debian's Chromium; scripts/system-deps.sh installs it for the tests. */
export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Where a run's shared browser server is announced: one file per tap runner (its pid). */
export const sharedBrowserFile = (cwd, runnerPid) => `${cwd}/.tap/browser-${runnerPid}.json`;
