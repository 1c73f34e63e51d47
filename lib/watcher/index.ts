import 'server-only';

// The watcher and what it keeps (started by instrumentation.ts): every environment checked on an
// interval by the one replica holding the lease, its history, notifications on state changes
// through the outbox, and scheduled rotations through the scheduler's entry point of
// lib/operations (which only this folder may import). Pages and the API read from here: the
// history, the next scheduled rotation, the webhooks (masked) and the test notification.

export { startWatcher, stopWatcher, watcherIsLeading } from './watcher';
export { getEnvironmentHistory, type EnvironmentHistory, type Incident, type TimelineSegment, type TimelineState, type TimelineWindow, type HistoryChange } from './history';
export { getScheduledRotation, type ScheduledRotationView } from './next-rotation';
export { getNotificationSettings, sendTestNotification, type NotificationSettingsView, type TestNotificationResult, type WebhookView } from './test-notification';
export { WebhookListError } from './targets';
