export * from './constants.js';
export * from './intervals.js';
export * from './instruments.js';
export * from './messages.js';
export type * from './events.js';
export * from './feed-rules.js';
