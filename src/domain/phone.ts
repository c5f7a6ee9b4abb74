/**
 * A customer's phone number. Two rules, one inside the other: what the transaction machine, the
 * business link and its server take (11 digits starting with 1), and the narrower mainland mobile
 * rule the screen's keypad enables OK for (1 then 3–9). A number the keypad lets through always
 * passes the wider rule.
 */

/** 11 digits starting with 1: what the machine takes and the business link carries. */
export const PHONE_PATTERN = /^1\d{10}$/;

/** A mainland mobile number: 11 digits, 1 then 3–9. */
export const MOBILE_PATTERN = /^1[3-9]\d{9}$/;

export function isPhoneNumber(s: string): boolean {
  return PHONE_PATTERN.test(s);
}

export function isMobileNumber(s: string): boolean {
  return MOBILE_PATTERN.test(s);
}
