import { z } from 'zod';
import { validatorModel } from '../descriptor.js';

/** The essp model: configuration `validator.model: 'essp'`. */
export const esspModel = validatorModel({ model: 'essp', options: z.object({
    /** The validator's SSP address (0 unless it was changed). */
    address: z.number().int().min(0).max(0x7d).optional(),
    /** The fixed half of the encryption key, 16 hex digits (ITL ships 0123456701234567). */
    fixedKey: z.string().regex(/^[0-9a-fA-F]{16}$/, 'must be 16 hex digits').optional().meta({ secret: true }),
  }), load: async () => (await import('./index.js')).createEssp });
