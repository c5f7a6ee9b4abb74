// Waits until a URL answers (kiosk-screen.service runs it before Chromium): exit 0 once it does,
// 1 after two minutes, so systemd retries the unit.
const url = process.argv[2];
if (!url) {
  console.error('usage: wait-for-url.mjs URL');
  process.exit(2);
}
const deadline = Date.now() + 120_000;
for (;;) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    if (res.status < 500) process.exit(0);
  } catch {
    // Not listening yet.
  }
  if (Date.now() > deadline) {
    console.error(`${url} did not answer within 2 minutes`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 1000));
}
