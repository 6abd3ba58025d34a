export { MarketSimulator, type SimSink, type SimulatorOptions } from './market-simulator.js';
export { Random } from './random.js';
