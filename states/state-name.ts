/** 'cash.idle' for { cash: 'idle' }: one readable name for a (possibly nested) state value. */
export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const [key, child] = Object.entries(value)[0] ?? [];
    if (key !== undefined) return child === undefined || (typeof child === 'object' && child && Object.keys(child).length === 0) ? key : `${key}.${stateName(child)}`;
  }
  return String(value);
}
