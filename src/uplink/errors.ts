/**
 * How a request to the business side failed. `kind` tells the caller what it may conclude:
 * - 'unreachable': nothing happened at the server: no link, so nothing was sent, or the server
 *   said it cannot serve now;
 * - 'outcome-unknown': sent, but no answer came (time-out, connection lost); the server may or may
 *   not have acted on it, so it is neither refused nor done: re-send with the same message id;
 * - 'garbage': an answer came that cannot be understood;
 * - 'rejected': the server understood and refused; re-sending the same thing will not help;
 * - 'unknown-account': the look-up's phone number is not an account.
 */
export type UplinkErrorKind = 'unreachable' | 'outcome-unknown' | 'garbage' | 'rejected' | 'unknown-account';

export class UplinkError extends Error {
  override readonly name = 'UplinkError';
  constructor(
    readonly kind: UplinkErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
