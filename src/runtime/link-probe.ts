/** Asks the central server whether it is there. A cheap request that needs no account. */
export async function probeLink(baseUrl: string, timeoutMs: number): Promise<{ up: boolean; error?: string }> {
  try {
    const res = await fetch(new URL('healthz', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`), {
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    return res.ok ? { up: true } : { up: false, error: `server answered HTTP ${res.status}` };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return { up: false, error: err.cause?.code ?? err.message };
  }
}
