import type { InstrumentSpec } from '@tickdeck/protocol';

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`GET ${path} failed: HTTP ${response.status}`);
  return (await response.json()) as T;
}

/** The gateway's instrument universe, in display order. */
export async function fetchSymbols(): Promise<InstrumentSpec[]> {
  const symbols = await getJson<InstrumentSpec[]>('/api/symbols');
  if (!Array.isArray(symbols)) throw new Error('GET /api/symbols did not return a list');
  return symbols;
}
