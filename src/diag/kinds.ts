import { DIAG_MODELS } from '../../drivers/registry.js';

/** What `kiosk diag --kind` accepts: the device behind a single `--port`, one per model descriptor with diagnostics. */
export const DIAG_KINDS = DIAG_MODELS.map((m) => m.diag.kind) as [string, ...string[]];
export type DiagKind = string;
