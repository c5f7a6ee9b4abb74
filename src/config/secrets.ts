import { z } from 'zod';
import { configSchema, type Config } from './schema.js';

/*
 * A value in the configuration that must not be shown is marked where the schema declares it,
 * `.meta({ secret: true })` (drivers' own keys too), so a new secret key is masked by being
 * declared one: there is no second list to forget.
 */
const isSecret = (schema: z.ZodType) => z.globalRegistry.get(schema)?.secret === true;

/** Every key the schema marks secret, found by walking it (objects, arrays, unions, wrappers). */
function collect(schema: z.ZodType, into: Set<string>, seen: Set<z.ZodType>, key?: string): void {
  if (seen.has(schema)) return;
  seen.add(schema);
  if (key !== undefined && isSecret(schema)) into.add(key);
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
  const child = (s: unknown, k = key) => {
    if (s && typeof s === 'object' && '_zod' in s) collect(s as z.ZodType, into, seen, k);
  };
  if (def.type === 'object') for (const [k, s] of Object.entries(def.shape as Record<string, unknown>)) child(s, k);
  for (const inner of ['innerType', 'element', 'in', 'out']) child(def[inner]);
  if (Array.isArray(def.options)) for (const o of def.options) child(o);
}

const keys = new Set<string>();
collect(configSchema, keys, new Set());
/** The keys whose values are masked wherever the configuration is shown. */
export const SECRET_KEYS: ReadonlySet<string> = keys;

export const MASK = '***';

/** The configuration as it may be shown: every secret key's value replaced by `***`. */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, SECRET_KEYS.has(k) && v !== undefined ? MASK : maskSecrets(v)]));
  }
  return value;
}

/** The factory's own secrets: anyone with the device's manual knows them. */
export const FACTORY_SECRETS = { esspFixedKey: '0123456701234567', zvtPassword: '000000' } as const;

/**
 * The factory defaults in use among the devices' secrets (also when the key is left out and the
 * default applies). The engineers' PIN hashes are looked at by src/console/pin.ts weakPins().
 */
export function secretWarnings(config: Config): string[] {
  const out: string[] = [];
  const v = config.validator as { model: string; fixedKey?: string };
  if (v.model === 'essp' && (v.fixedKey === undefined || v.fixedKey.toLowerCase() === FACTORY_SECRETS.esspFixedKey)) {
    out.push(`validator.fixedKey: the eSSP factory key ${FACTORY_SECRETS.esspFixedKey} is in use; set the validator's own key (ITL's setup tool) and configure it`);
  }
  if (config.paymentTerminal && config.paymentTerminal.password === FACTORY_SECRETS.zvtPassword) {
    out.push(`paymentTerminal.password: the ZVT factory password ${FACTORY_SECRETS.zvtPassword} is in use; change it on the terminal and here`);
  }
  return out;
}
