export { openDatabase, openDatabaseReadOnly, migrate, type Database } from './store.js';
export { migrations, latestVersion, type Migration, type MigrationContext } from './migrations.js';
export { GENESIS, chainHash, type ChainBreak, type ChainProblem, type ChainResult } from './chain.js';
export { KEY_BYTES, loadOrCreateKey, readKey } from './key.js';
export { journalVerifyCommand } from './verify-command.js';
export {
  EVENT_SCHEMAS,
  EVENT_TYPES,
  APPEND_TYPES,
  asTyped,
  isEvent,
  isEventType,
  isType,
  parsePayload,
  type AppendType,
  type EventPayloads,
  type EventType,
  type JournalEvent,
  type OwnedEventType,
  type TypedEvent,
} from './events.js';
export { Journal, type JournalOptions, type OutboxReader } from './journal.js';
export type { CommitObserver, Service, TxnRow, TxnStatus } from './ledger.js';
export type { CashCollection } from './cashbox.js';
export type { FaultFacts, FaultReason } from './fault-slip.js';
export type { ClaimMessage, ClaimReason, ClaimRow, ClaimStatus, OwedChangePolicy } from './claims.js';
export type { CountedCash } from './cash-in.js';
export type { HopperLevel, PayoutRow, PayoutStatus } from './change.js';
export type {
  CardApproval,
  CardAttempt,
  CardMethod,
  CardRequest,
  CardStatus,
  CardUnknownOutcome,
  TerminalReversalRow,
} from './cards.js';
export type { OutboxRow, PaymentCard, PaymentMessage, PaymentMobile, ReversalMessage, SendResult } from './outbox.js';
export {
  foldMobileAttempts,
  MOBILE_REVOKE_KIND,
  revokeMessageId,
  type MobileAttempt,
  type MobileMode,
  type MobilePaidOutcome,
  type MobileRequest,
  type MobileRevokeMessage,
  type MobileStatus,
} from './mobile.js';
export type { LookupInfo } from './transactions.js';
export type { AcknowledgedHead, HeadRef, RollbackMark } from './chain-heads.js';
export type {
  ActiveAlarmRow,
  AlarmMessage,
  ChainedEvent,
  CommandRow,
  ManagementStore,
} from './management-tables.js';
