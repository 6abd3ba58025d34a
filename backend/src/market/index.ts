export * from './market-state.js';
export * from './history-ring.js';
export * from './trade-ring.js';
