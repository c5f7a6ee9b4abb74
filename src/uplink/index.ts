export type { AccountInfo, AdapterEvents, BusinessAdapter, DeliveryAck, LinkDown, LinkUp, OutboxMessage } from './adapter.js';
export { createBusinessAdapter } from './adapters.js';
export { CERTIFICATE_ALARM, watchServerCertificate } from './certificate-alarm.js';
export { UplinkError, type UplinkErrorKind } from './errors.js';
export {
  Forwarder,
  MAX_REJECTIONS,
  type BackoffInfo,
  type Delivery,
  type ForwarderEvents,
  type ForwarderOptions,
  type OutboxEntry,
  type OutboxPort,
  type PoisonInfo,
  type SendResult,
  type SentInfo,
} from './forwarder.js';
export { mobileRevokePayloadSchema, type MobileRevokePayload } from './messages.js';
export { claimPayloadSchema, paymentPayloadSchema, reversalPayloadSchema, type ClaimPayload, type PaymentPayload, type ReversalPayload } from './messages.js';
export { BACKLOG_ALARM, DISK_ALARM, OutboxMonitor, type MonitorReading, type OutboxMonitorOptions } from './outbox-monitor.js';
export { loadTlsMaterial, clientTlsOptions, TlsSetupError, type TlsFiles, type TlsMaterial } from '../tls/material.js';
export { hasMobileLink, type MobileAnswer, type MobileChargeRequest, type MobileLink, type MobileOrder, type MobileOrderRequest } from './mobile.js';
