/**
 * A reply time-out that measures the device's silence, not this process's.
 *
 * When the process is busy (a module compiling on demand, an update unpacking, a long garbage
 * collection), a reply can sit unread in the kernel's buffer while the timer's deadline passes:
 * Node runs expired timers before it reads, and a serial read also waits its turn in libuv's
 * thread pool. Counting that as device silence takes a healthy validator offline in the middle
 * of a payment. So a timer that fires late by half its span or more gives the line one more span,
 * with the process listening, before the reply counts as missing.
 */
export interface ReplyDeadline {
  clear(): void;
}

export function replyDeadline(ms: number, onSilent: () => void): ReplyDeadline {
  const due = performance.now() + ms;
  let extended = false;
  let timer: NodeJS.Timeout;
  const fire = (): void => {
    if (!extended && performance.now() - due >= ms / 2) {
      extended = true;
      timer = setTimeout(fire, ms);
      return;
    }
    onSilent();
  };
  timer = setTimeout(fire, ms);
  return { clear: () => clearTimeout(timer) };
}
