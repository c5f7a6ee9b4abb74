export { openDatabase, openDatabaseReadOnly, migrate, type Database } from './db.js';
export { migrations, latestVersion, type Migration, type MigrationContext } from './migrations.js';
export { GENESIS, chainHash, type ChainBreak, type ChainProblem, type ChainResult } from './chain.js';
export { KEY_BYTES, loadOrCreateKey, readKey } from './key.js';
export { journalVerifyCommand } from './verify-command.js';
export {
  Journal,
  type CardApproval,
  type CardAttempt,
  type CardMethod,
  type CardRequest,
  type CardStatus,
  type CardUnknownOutcome,
  type PaymentCard,
  type TerminalReversalRow,
  type CashCollection,
  type CountedCash,
  type HopperLevel,
  type JournalEvent,
  type JournalOptions,
  type LookupInfo,
  type OutboxRow,
  type PaymentMessage,
  type PayoutRow,
  type PayoutStatus,
  type ReversalMessage,
  type SendResult,
  type Service,
  type TxnRow,
  type TxnStatus,
} from './journal.js';
