import type { Server } from 'node:net';
import type { Config } from '../config/schema.js';
import { groupId } from '../control/peer.js';
import { serveControl } from '../control/server.js';
import type { Logger } from '../log.js';
import type { ControlHandler } from './control-handler.js';

/**
 * The engineers' console's socket: mode 0660, so the console's group may connect, and every
 * request carries who the kernel says sent it; the handler decides per command.
 */
export async function serveConsoleControl(config: Config, control: ControlHandler, log: Logger): Promise<Server | undefined> {
  const wanted = config.control.consoleGroup;
  const gid = wanted === undefined ? undefined : (groupId(wanted) ?? undefined);
  if (wanted !== undefined && gid === undefined) log.warn({ group: wanted }, "the console socket's group does not exist: the socket keeps the service's group");
  try {
    return await serveControl(config.control.consoleSocket, (req, peer) => control.handle(req, peer), { mode: 0o660, identify: true, ...(gid !== undefined ? { gid } : {}) });
  } catch (e) {
    // Without it the console cannot reach the service, but the kiosk still serves its customers.
    log.error({ err: (e as Error).message, socket: config.control.consoleSocket }, "the engineers' console socket could not be opened");
    return undefined;
  }
}
