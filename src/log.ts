import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout: journald keeps them, and the embedded launcher pretty-prints them. */
export function createLogger(level: string, name = 'kiosk'): Logger {
  return pino({ name, level, base: { name }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** The small callback shape the drivers take, so drivers do not depend on the logging library. */
export type DriverLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: object) => void;

export function driverLog(logger: Logger): DriverLog {
  return (level, msg, fields) => logger[level](fields ?? {}, msg);
}
