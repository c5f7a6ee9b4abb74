/** What `kiosk diag --kind` accepts: the device behind a single `--port`. */
export const DIAG_KINDS = ['id003', 'cctalk-coin', 'cctalk-hopper', 'escpos'] as const;
export type DiagKind = (typeof DIAG_KINDS)[number];
