/**
 * What leaves the card reader driver: a masked card anyone may see, and the sensitive data sealed in
 * a SensitiveCard that shows nothing when printed, logged or serialised and is zero-filled after use.
 */
import { Redacted } from '../redacted.js';
import { createHmac, hkdfSync } from 'node:crypto';
import type { CardRead, MaskedCard, SensitiveCard, SensitiveCardData } from '../types.js';
import { wipeCardData, type CardData } from './tracks.js';

const KEY_INFO = 'kiosk card number hash v1';

/**
 * The key of the card-number hash, derived from the terminal secret so that the secret itself is
 * used for one purpose only (the journal chain) and a leaked hash key does not open the journal.
 */
export function derivePanKey(terminalSecret: Uint8Array): Buffer {
  if (terminalSecret.length < 16) throw new RangeError('the terminal secret must be at least 16 bytes');
  return Buffer.from(hkdfSync('sha256', terminalSecret, Buffer.alloc(0), KEY_INFO, 32));
}

/** HMAC-SHA256 of the ASCII digits, hex. The same card gives the same hash on the same terminal. */
export function panHash(key: Uint8Array, pan: Uint8Array): string {
  return createHmac('sha256', key).update(pan).digest('hex');
}

/**
 * First 6 and last 4 digits at most; shorter numbers show fewer leading digits so that at least 4
 * stay masked.
 */
export function maskPan(pan: Uint8Array): string {
  const last = Math.min(4, Math.max(0, pan.length - 4));
  const first = Math.min(6, Math.max(0, pan.length - last - 4));
  const shown = (from: number, to: number): string => String.fromCharCode(...pan.subarray(from, to));
  return shown(0, first) + '*'.repeat(pan.length - first - last) + shown(pan.length - last, pan.length);
}

class SealedCard extends Redacted implements SensitiveCard {
  protected readonly label = '[SensitiveCard: redacted]';
  #card: CardData | undefined;

  constructor(card: CardData) {
    super();
    this.#card = card;
  }

  get wiped(): boolean {
    return this.#card === undefined;
  }

  async consume<T>(use: (data: SensitiveCardData) => Promise<T> | T): Promise<T> {
    const card = this.#card;
    if (!card) throw new Error('the card data was already wiped');
    try {
      return await use(
        Object.freeze({
          pan: card.pan,
          expiry: card.expiry,
          track1: card.track1?.raw,
          track2: card.track2?.raw,
        }),
      );
    } finally {
      this.wipe();
    }
  }

  wipe(): void {
    if (this.#card) wipeCardData(this.#card);
    this.#card = undefined;
  }
}

/** Takes ownership of `card`: its buffers end up inside the SensitiveCard and are wiped with it. */
export function seal(card: CardData, panKey: Uint8Array): CardRead {
  const masked: MaskedCard = {
    maskedPan: maskPan(card.pan),
    expiry: String.fromCharCode(...card.expiry),
    panHash: panHash(panKey, card.pan),
    tracks: [...(card.track1 ? [1 as const] : []), ...(card.track2 ? [2 as const] : [])],
  };
  return { card: masked, sensitive: new SealedCard(card) };
}
