/**
 * The management link's topic tree on an MQTT broker, one subtree per terminal:
 * `kiosk/<terminalId>/<leaf>`. The kiosk writes the first group and reads the second; the central
 * consumer the other way round. The broker's ACL is generated from these lists, so a topic added
 * here is allowed for the terminal it belongs to and for nobody else. See docs/management-mqtt.md.
 */
export const TOPIC_ROOT = 'kiosk';

/** Kiosk → central. */
export const KIOSK_TO_CENTRAL = ['state', 'heartbeat', 'counters', 'alarm', 'cmd-ack', 'journal'] as const;
/** Central → kiosk: remote commands, and the receipts that say what the central side has stored. */
export const CENTRAL_TO_KIOSK = ['cmd', 'receipt'] as const;

export type KioskTopic = (typeof KIOSK_TO_CENTRAL)[number];
export type CentralTopic = (typeof CENTRAL_TO_KIOSK)[number];

/** A terminal id can be a topic level only without the characters MQTT gives a meaning. */
export function topicSafe(terminalId: string): boolean {
  return terminalId.length > 0 && !/[/+#\u0000]/.test(terminalId);
}

export function topic(terminalId: string, leaf: KioskTopic | CentralTopic): string {
  if (!topicSafe(terminalId)) throw new Error(`terminal id '${terminalId}' cannot be an MQTT topic level`);
  return `${TOPIC_ROOT}/${terminalId}/${leaf}`;
}

/** The terminal id and leaf of a topic in the tree, or undefined for any other topic. */
export function parseTopic(t: string): { terminalId: string; leaf: string } | undefined {
  const parts = t.split('/');
  if (parts.length !== 3 || parts[0] !== TOPIC_ROOT || !parts[1]) return undefined;
  return { terminalId: parts[1], leaf: parts[2]! };
}
