import type { Candle, CandleInterval, Candles, InstrumentSpec } from '@tickdeck/protocol';
import type { CandleQuery } from './chart/book';
import { authHeaders } from './auth';

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { accept: 'application/json', ...authHeaders() } });
  if (!response.ok) throw new Error(`GET ${path} failed: HTTP ${response.status}`);
  return (await response.json()) as T;
}

/** The gateway's instrument universe, in display order. */
export async function fetchSymbols(): Promise<InstrumentSpec[]> {
  const symbols = await getJson<InstrumentSpec[]>('/api/symbols');
  if (!Array.isArray(symbols)) throw new Error('GET /api/symbols did not return a list');
  return symbols;
}

/** The throttle tiers (ms) this gateway offers (`GET /api/health`'s `tiersMs`). */
export async function fetchTiers(): Promise<number[]> {
  const health = await getJson<{ tiersMs?: unknown }>('/api/health');
  const tiers = health.tiersMs;
  if (!Array.isArray(tiers) || tiers.length === 0 || !tiers.every((t) => Number.isInteger(t) && t > 0)) {
    throw new Error('GET /api/health did not list the tiers');
  }
  return tiers as number[];
}

/** `GET /api/candles/{symbol}`: bars of one interval, oldest first (the open bar last). */
export async function fetchCandles(symbol: string, interval: CandleInterval, query: CandleQuery): Promise<Candle[]> {
  const params = new URLSearchParams({ interval, limit: String(query.limit) });
  if (query.from !== undefined) params.set('from', String(query.from));
  if (query.to !== undefined) params.set('to', String(query.to));
  const path = `/api/candles/${encodeURIComponent(symbol)}?${params}`;
  const body = await getJson<Candles>(path);
  if (!Array.isArray(body.candles)) throw new Error(`GET ${path} did not return candles`);
  return body.candles;
}
