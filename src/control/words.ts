import type { ControlRequest } from './protocol.js';

/**
 * A control request from words as a person types them (`start pay`, `number 13800138000`,
 * `transactions 10`). One vocabulary for `kiosk ctl`, the embedded launcher and the scenarios.
 * Throws an Error that says what is wrong.
 */
export function requestFromWords(command: string, arg: string | undefined): ControlRequest {
  switch (command) {
    case 'start':
      if (arg !== 'pay' && arg !== 'topup' && arg !== 'lookup') throw new Error('start needs a service: pay, topup or lookup');
      return { cmd: 'start', service: arg };
    case 'number':
      if (!arg) throw new Error('number needs the phone number');
      return { cmd: 'number', phone: arg };
    case 'mobile':
      if (arg !== 'code' && arg !== 'qr') throw new Error('mobile needs a way to pay: code (the customer shows a payment code) or qr (the kiosk shows one)');
      return { cmd: 'mobile', mode: arg };
    case 'transaction':
      if (!arg) throw new Error('transaction needs an id');
      return { cmd: 'transaction', id: arg };
    case 'journal-rollback-accept':
      if (!arg) throw new Error('journal-rollback-accept needs who accepts the journal (your name)');
      return { cmd: 'journal-rollback-accept', by: arg };
    case 'transactions':
      return arg ? { cmd: 'transactions', limit: Number(arg) } : { cmd: 'transactions' };
    case 'status':
    case 'confirm':
    case 'card':
    case 'done':
    case 'topup-offline':
    case 'cancel':
    case 'verify':
    case 'forward-now':
    case 'hoppers':
      return { cmd: command };
    default:
      throw new Error(`unknown command '${command}'`);
  }
}
