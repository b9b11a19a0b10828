// The one way the UI talks to lineal server: JSON over /api/v1, with the signed-in token as a
// Bearer credential, or the session cookie of a sign-in through the server (SSO), whose writes
// carry the session's CSRF token. Errors keep the server's {error: {code, message, details}}
// shape.
import { useCallback, useEffect, useState } from "react";

const TOKEN_KEY = "lineal.token";

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token.trim());
  else localStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new CustomEvent("lineal:token"));
}

/** The session's CSRF token (the lineal_csrf cookie), sent back on writes; null: no session. */
export function csrfToken(): string | null {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === "lineal_csrf") return decodeURIComponent(value.join("="));
  }
  return null;
}

/** How the server signs people in (GET /api/v1/auth/config, answered without a credential). */
export interface AuthConfig {
  auth: boolean;
  login: boolean;
  login_url: string | null;
  logout_url: string | null;
}

/** Sign out: forget the token, and end the SSO session if there is one. */
export async function signOut(): Promise<void> {
  localStorage.removeItem(TOKEN_KEY);
  if (csrfToken() !== null) await fetch("/auth/logout", { method: "POST" });
  window.dispatchEvent(new CustomEvent("lineal:token"));
}

/** Leave for the server's SSO sign-in; the browser comes back to the page it is on. */
export function signInWithSso(loginUrl: string): void {
  localStorage.removeItem(TOKEN_KEY); // a stale token would be sent before the session
  const here = window.location.pathname + window.location.search;
  window.location.assign(`${loginUrl}?next=${encodeURIComponent(here)}`);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | undefined | null>;

export function url(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  }
  const qs = params.toString();
  return `/api/v1${path}${qs ? `?${qs}` : ""}`;
}

export async function api<T>(
  path: string,
  options: { method?: string; query?: Query; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  const method = options.method ?? "GET";
  const csrf = csrfToken();
  if (csrf && !["GET", "HEAD", "OPTIONS"].includes(method.toUpperCase())) {
    headers["x-csrf-token"] = csrf;
  }
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  const target = url(path, options.query);
  const response = await (takeEarly(requestKey(method, target, body), token)
    ?? fetch(target, { method, headers, body }));
  const text = await response.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(response.status, "BadResponse", `not JSON: ${text.slice(0, 200)}`);
  }
  if (!response.ok) {
    const error = data?.error ?? {};
    if (response.status === 401) window.dispatchEvent(new CustomEvent("lineal:unauthorized"));
    throw new ApiError(
      response.status,
      error.code ?? "HTTPError",
      error.message ?? `${response.status} ${response.statusText}`,
      error.details?.hint,
    );
  }
  return data as T;
}

/** A request as text: method, URL and body. index.html's early script names the requests it
 * sends the same way. */
export function requestKey(method: string, target: string, body?: string): string {
  return `${method.toUpperCase()} ${target}${body === undefined ? "" : ` ${body}`}`;
}

/** A request index.html's early script sent while the bundle loaded (the first page's data). */
export interface Early {
  key: string;
  token: string | null;
  at: number;
  response: Promise<Response>;
}

/** How long after it was sent an early answer may still stand for a fresh request. */
export const EARLY_MS = 10_000;

/** The answer to the early request ``key``, once (a later identical request fetches anew);
 * null: none was sent, it was sent with another token, or too long ago. */
export function takeEarly(key: string, token: string | null, now = performance.now()): Promise<Response> | null {
  const early = (globalThis as { __linealEarly?: Early[] }).__linealEarly;
  if (!early) return null;
  const index = early.findIndex((e) => e.key === key);
  if (index < 0) return null;
  const [hit] = early.splice(index, 1);
  return hit.token === token && now - hit.at < EARLY_MS ? hit.response : null;
}

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** GET ``path`` whenever it (or the signed-in token) changes; ``path`` null: nothing yet. */
export function useApi<T>(path: string | null, query?: Query): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loading: boolean }>(
    { data: null, error: null, loading: path !== null },
  );
  const [tick, setTick] = useState(0);
  const key = path === null ? null : url(path, query);
  useEffect(() => {
    const bump = () => setTick((t) => t + 1);
    window.addEventListener("lineal:token", bump);
    return () => window.removeEventListener("lineal:token", bump);
  }, []);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    api<T>(path, { query })
      .then((data) => live && setState({ data, error: null, loading: false }))
      .catch((error) => live && setState({ data: null, error: toApiError(error), loading: false }));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  return new ApiError(0, "NetworkError", String((error as Error)?.message ?? error));
}

/** A metric's points as [step, value] pairs (values "NaN"/"Infinity" become null). */
export async function metricSeries(runId: string, key: string): Promise<[number, number | null][]> {
  const points = await api<[string, number | string, number, number][]>(
    `/runs/${encodeURIComponent(runId)}/metrics/${key.split("/").map(encodeURIComponent).join("/")}`,
  );
  return points.map((p) => [p[2], typeof p[1] === "number" ? p[1] : null]);
}
