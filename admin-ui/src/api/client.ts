// The admin API client: JSON in and out, the session cookie with its CSRF header for writes,
// errors as `ApiError` with the server's stable code, and one place that notices an expired
// session. Response types come from `schema.d.ts`, generated from the server's OpenAPI
// document (`npm run gen`), so a server change that breaks the UI breaks `tsc`.

import type { paths } from "../../.generated/schema";

export const API_BASE = "/admin/api/v1";

/** The server's error body: `{"code", "message", "fields"?, "param"?, "current_version"?}`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: Record<string, { code: string; message: string }>;
  readonly currentVersion?: number;

  constructor(
    status: number,
    code: string,
    message: string,
    fields: Record<string, { code: string; message: string }> = {},
    currentVersion?: number,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.currentVersion = currentVersion;
  }
}

export interface ClientOptions {
  fetch?: typeof fetch;
  /** The document's cookies (`document.cookie`), read for the CSRF token. */
  cookies?: () => string;
  /** Called when the server says the session is gone (401 on anything but sign-in). */
  onUnauthenticated?: () => void;
}

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** The CSRF token the sign-in left in the readable `folio_csrf` cookie. */
export function csrfToken(cookies: string): string | undefined {
  for (const part of cookies.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "folio_csrf") {
      return decodeURIComponent(rest.join("="));
    }
  }
  return undefined;
}

export class Client {
  private readonly fetchFn: typeof fetch;
  private readonly cookies: () => string;
  private readonly onUnauthenticated: () => void;

  constructor(opts: ClientOptions = {}) {
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.cookies = opts.cookies ?? (() => (typeof document === "undefined" ? "" : document.cookie));
    this.onUnauthenticated = opts.onUnauthenticated ?? (() => {});
  }

  /** Sends a request to `API_BASE + path`; resolves with the JSON body of a 2xx answer. */
  async request<T>(method: Method, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const h: Record<string, string> = { accept: "application/json", ...headers };
    if (body !== undefined) {
      h["content-type"] = "application/json";
    }
    if (method !== "GET") {
      const token = csrfToken(this.cookies());
      if (token) {
        h["x-csrf-token"] = token;
      }
    }
    let res: Response;
    try {
      res = await this.fetchFn(API_BASE + path, {
        method,
        headers: h,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "network_error", "The server could not be reached. Check your connection and try again.");
    }
    const text = await res.text();
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    if (res.ok) {
      return json as T;
    }
    const err = (json ?? {}) as {
      code?: string;
      message?: string;
      fields?: Record<string, { code: string; message: string }>;
      current_version?: number;
    };
    const error = new ApiError(
      res.status,
      err.code ?? "http_" + res.status,
      err.message ?? `The server answered ${res.status}.`,
      err.fields ?? {},
      err.current_version,
    );
    if (res.status === 401 && !path.startsWith("/auth/login")) {
      this.onUnauthenticated();
    }
    throw error;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body ?? {});
  }
}

// ---- typed shapes from the OpenAPI document ----------------------------------------------

/** The JSON body of an operation's 200 answer (whatever its exact media type). */
type JsonOk<Op> = Op extends { responses: { 200: { content: infer C } } } ? C[keyof C] : never;

/** `GET /types`: the content types. */
export type TypeList = JsonOk<paths["/admin/api/v1/types"]["get"]>;
export type ContentTypeSummary = TypeList["data"][number];
/** `GET /types/{type}`: one type with the JSON Schema of its fields. */
export type TypeDetail = JsonOk<paths["/admin/api/v1/types/{type}"]["get"]>;

/** An entry as the admin API answers it. */
export interface AdminEntry {
  id: string;
  type: string;
  version: number;
  status: "draft" | "published" | "changed";
  created_at: string;
  updated_at: string;
  published_at?: string | null;
  created_by?: string;
  updated_by?: string;
  fields: Record<string, unknown>;
}

export interface EntryPage {
  data: AdminEntry[];
  meta: { total: number; total_is_lower_bound?: boolean; next_cursor?: string | null };
}

export interface User {
  id: string;
  email: string;
  name: string;
  role: string;
}

export interface Me {
  data: User;
}

export type LoginAnswer =
  | { data: { two_factor_required: true; challenge: string } }
  | { data: { two_factor_required?: undefined; user: User; session: { id: string; csrf_token: string; expires_at: string } } };
