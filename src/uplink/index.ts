export {
  BusinessClient,
  UplinkError,
  paymentPayloadSchema,
  type AccountInfo,
  type BusinessClientOptions,
  type PaymentAck,
  type PaymentPayload,
  type UplinkErrorKind,
} from './business-client.js';
export {
  Forwarder,
  type BackoffInfo,
  MAX_REJECTIONS,
  type ForwarderEvents,
  type ForwarderOptions,
  type LinkState,
  type OutboxEntry,
  type OutboxPort,
  type PoisonInfo,
  type SendResult,
  type SentInfo,
} from './forwarder.js';
