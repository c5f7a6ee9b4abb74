/** The terminal secret the journal tests chain with; any 32 bytes do. */
export const testKey = Buffer.alloc(32, 0x5a);

/** Another terminal's secret. */
export const otherKey = Buffer.alloc(32, 0xa5);
