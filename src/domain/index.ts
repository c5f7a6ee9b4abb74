/** The kiosk's vocabulary: the services it offers, the phone-number rule, and money. */
export { CURRENCY, yuan, yuanSign } from './money.js';
export { isMobileNumber, isPhoneNumber, MOBILE_PATTERN, PHONE_PATTERN } from './phone.js';
export { PAYING_SERVICES, SERVICES, type PayingService, type Service } from './service.js';
