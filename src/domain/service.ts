/** What a customer can come to the kiosk for. */
export const SERVICES = ['pay', 'topup', 'lookup'] as const;

/** Pay a bill, top up an account, or only look up what is due. */
export type Service = (typeof SERVICES)[number];

/** The services that move money (a look-up takes none); what the screen and the business link carry. */
export const PAYING_SERVICES = ['pay', 'topup'] as const;

export type PayingService = (typeof PAYING_SERVICES)[number];
