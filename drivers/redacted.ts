/**
 * The base of the holders of secrets a driver hands over (card data, wallet payment codes): every
 * way a value is printed, logged, serialised or turned into a string shows only the holder's label.
 */
import { inspect } from 'node:util';

export abstract class Redacted {
  /** E.g. '[SensitiveCard: redacted]'. */
  protected abstract readonly label: string;

  toJSON(): string {
    return this.label;
  }

  toString(): string {
    return this.label;
  }

  [Symbol.toPrimitive](): string {
    return this.label;
  }

  [inspect.custom](): string {
    return this.label;
  }
}
