export { openDatabase, migrate, type Database } from './db.js';
export { migrations, latestVersion, type Migration } from './migrations.js';
export {
  Journal,
  type JournalEvent,
  type JournalOptions,
  type LookupInfo,
  type OutboxRow,
  type PaymentMessage,
  type SendResult,
  type Service,
  type TxnRow,
  type TxnStatus,
} from './journal.js';
