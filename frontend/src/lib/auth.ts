/**
 * The viewer token for gateways started with AUTH_TOKENS or AUTH_JWT_SECRET: kept in
 * localStorage, sent as the Socket.IO handshake's `auth.token` and as `Authorization: Bearer`
 * on REST. Never put in a URL.
 */
const KEY = 'tickdeck.token';

function storage(): Storage | undefined {
  return typeof localStorage === 'undefined' ? undefined : localStorage;
}

export function getToken(): string | undefined {
  return storage()?.getItem(KEY) ?? undefined;
}

export function setToken(token: string | undefined): void {
  const s = storage();
  if (!s) return;
  if (token) s.setItem(KEY, token);
  else s.removeItem(KEY);
}

/** Request headers carrying the token, if there is one. */
export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}
