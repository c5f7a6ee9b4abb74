/**
 * Imported first by `kiosk run` for its side effect. V8 doubles the young generation each time a
 * burst of allocation survives a scavenge, up to 2 × 16 MB, and never gives it back: the start-up
 * burst (module sources, the configuration schema, the journal's replay) leaves an idle kiosk with
 * ~30 MB of mostly empty nursery in its RSS. A kiosk allocates in small steady amounts, so the
 * nursery stays at its initial 1 MB per half; a scavenge of it takes well under a millisecond.
 * Only the growth factor can still be changed once the heap exists (the maximum size cannot).
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
