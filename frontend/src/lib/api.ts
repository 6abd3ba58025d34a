import type { History, InstrumentSpec } from '@tickdeck/protocol';
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

/** `GET /api/history/{symbol}?seconds=N` as chart points: the close of each second at its start. */
export async function fetchHistory(symbol: string, seconds: number): Promise<{ x: number; y: number }[]> {
  const history = await getJson<History>(`/api/history/${encodeURIComponent(symbol)}?seconds=${seconds}`);
  if (!Array.isArray(history.points)) throw new Error(`GET /api/history/${symbol} did not return points`);
  return history.points.map((p) => ({ x: p.t, y: p.close }));
}
