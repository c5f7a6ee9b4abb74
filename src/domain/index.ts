/** The kiosk's vocabulary: the services it offers, the phone-number rule, money, and card numbers in text. */
export { CURRENCY, yuan, yuanSign } from './money.js';
export { isMobileNumber, isPhoneNumber, MOBILE_PATTERN, PHONE_PATTERN } from './phone.js';
export { PAYING_SERVICES, SERVICES, type PayingService, type Service } from './service.js';
export { findCardNumbers, luhn, maskCardNumbersInLines, textSymbols, type CardNumberHit } from './card-number.js';
export { maskWalletCode, MASKED_CODE_PATTERN, walletByPrefix, walletOf, type Wallet } from './wallet.js';
