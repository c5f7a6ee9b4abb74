import { NodeHidSource, type HidSource } from './hid.js';
import { SocketHidSource } from './hid-socket.js';

/**
 * The HID source a configuration's `device` names: a hidraw path (`/dev/hidraw3`, best a udev
 * symlink such as `/dev/kiosk/card-reader`), `usb:VVVV:PPPP` (hex USB ids), or `socket:PATH` for an
 * emulator in another process. Shared by every keyboard-mode device (card reader, code scanner).
 */
export function hidSourceFor(device: string): HidSource {
  if (device.startsWith('socket:')) return new SocketHidSource(device.slice('socket:'.length));
  const usb = /^usb:([0-9a-f]{4}):([0-9a-f]{4})$/i.exec(device);
  if (usb) return new NodeHidSource({ vendorId: parseInt(usb[1]!, 16), productId: parseInt(usb[2]!, 16) });
  return new NodeHidSource({ path: device });
}
