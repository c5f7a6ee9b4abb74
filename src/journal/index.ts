export { openDatabase, migrate, type Database } from './db.js';
export { migrations, latestVersion, type Migration } from './migrations.js';
export {
  Journal,
  type CountedCash,
  type HopperLevel,
  type JournalEvent,
  type JournalOptions,
  type LookupInfo,
  type OutboxRow,
  type PaymentMessage,
  type PayoutRow,
  type PayoutStatus,
  type SendResult,
  type Service,
  type TxnRow,
  type TxnStatus,
} from './journal.js';
