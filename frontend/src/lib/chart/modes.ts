/** Candlesticks or a line through the closes; volume is drawn beneath either. */
export type ChartMode = 'candles' | 'line';
export const CHART_MODES: readonly ChartMode[] = ['candles', 'line'];
