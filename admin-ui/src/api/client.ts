// The admin API client: JSON in and out, the session cookie with its CSRF header for writes,
// errors as `ApiError` with the server's stable code, and one place that notices an expired
// session. Response types come from `schema.d.ts`, generated from the server's OpenAPI
// document (`npm run gen`), so a server change that breaks the UI breaks `tsc`.

import type { components, paths } from "../../.generated/schema";

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
  /**
   * Called when the server says the session is gone: a 401 on anything but sign-in, for a
   * request sent since the latest sign-in (an older request's 401 speaks of the old session).
   */
  onUnauthenticated?: () => void;
}

/** The requests whose success starts a new session. */
const SIGN_IN_PATHS = ["/auth/login", "/auth/login/two-factor", "/auth/setup"];

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
  /** How many sessions this client has started; a request remembers the one it was sent in. */
  private sessions = 0;

  constructor(opts: ClientOptions = {}) {
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.cookies = opts.cookies ?? (() => (typeof document === "undefined" ? "" : document.cookie));
    this.onUnauthenticated = opts.onUnauthenticated ?? (() => {});
  }

  /**
   * A mark of the current session: `signedInSince(mark)` tells whether a sign-in has
   * succeeded since, so that a late answer about the old session can be told apart.
   */
  sessionMark(): number {
    return this.sessions;
  }

  signedInSince(mark: number): boolean {
    return this.sessions !== mark;
  }

  /** Sends a request to `API_BASE + path`; resolves with the JSON body of a 2xx answer. */
  async request<T>(method: Method, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const mark = this.sessions;
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
      // A sign-in answer with a session (not a request for the second factor) starts one.
      if (method === "POST" && SIGN_IN_PATHS.includes(path) && hasSession(json)) {
        this.sessions++;
      }
      return json as T;
    }
    const error = errorOf(res.status, json);
    if (res.status === 401 && !path.startsWith("/auth/login") && !this.signedInSince(mark)) {
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

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }

  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("DELETE", path, body);
  }

  /**
   * Uploads `form` (multipart) with progress, which `fetch` cannot report: `onProgress`
   * gets the fraction sent (0–1). Errors come back as `ApiError`, as from `request`.
   */
  upload<T>(path: string, form: FormData, onProgress?: (fraction: number) => void): Promise<T> {
    const mark = this.sessions;
    return new Promise<T>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", API_BASE + path);
      xhr.setRequestHeader("accept", "application/json");
      const token = csrfToken(this.cookies());
      if (token) {
        xhr.setRequestHeader("x-csrf-token", token);
      }
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable && onProgress) {
          onProgress(e.loaded / e.total);
        }
      };
      xhr.onerror = () =>
        reject(
          new ApiError(0, "network_error", "The upload did not reach the server. Check your connection and try again."),
        );
      xhr.onload = () => {
        let json: unknown = undefined;
        try {
          json = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
        } catch {
          json = undefined;
        }
        if (xhr.status >= 200 && xhr.status < 300) {
          resolve(json as T);
          return;
        }
        if (xhr.status === 401 && !this.signedInSince(mark)) {
          this.onUnauthenticated();
        }
        reject(errorOf(xhr.status, json));
      };
      xhr.send(form);
    });
  }
}

/** Whether a sign-in's answer holds a new session. */
function hasSession(json: unknown): boolean {
  const data = (json as { data?: { session?: unknown } } | undefined)?.data;
  return !!data && data.session !== undefined;
}

/** The `ApiError` for a non-2xx answer with body `json`. */
export function errorOf(status: number, json: unknown): ApiError {
  const err = (json ?? {}) as {
    code?: string;
    message?: string;
    fields?: Record<string, { code: string; message: string }>;
    current_version?: number;
  };
  return new ApiError(
    status,
    err.code ?? "http_" + status,
    err.message ?? `The server answered ${status}.`,
    err.fields ?? {},
    err.current_version,
  );
}

// ---- typed shapes from the OpenAPI document ----------------------------------------------

/** The JSON body of an operation's 200 answer (whatever its exact media type). */
type JsonOk<Op> = Op extends { responses: { 200: { content: infer C } } } ? C[keyof C] : never;

/** `GET /types`: the content types. */
export type TypeList = JsonOk<paths["/admin/api/v1/types"]["get"]>;
export type ContentTypeSummary = TypeList["data"][number];
/** `GET /types/{type}`: one type with the JSON Schema of its fields. */
export type TypeDetail = JsonOk<paths["/admin/api/v1/types/{type}"]["get"]>;

export type TypePermissions = ContentTypeSummary["permissions"];
export type Action = "read" | "create" | "update" | "delete" | "publish";

/** Whether the caller may `action` on entries of `t` (the server checks again). */
export function may(t: { permissions: TypePermissions } | undefined, action: Action): boolean {
  return !!t && t.permissions.actions.includes(action);
}

/** A media library item. */
export type MediaItem = components["schemas"]["MediaItem"];
export type MediaPage = JsonOk<paths["/admin/api/v1/media"]["get"]>;
export type SearchResults = components["schemas"]["SearchResults"];

type Schemas = components["schemas"];

/** An entry as the admin API answers it, whatever its type. */
export type AdminEntry = Schemas["AdminEntry"];
/** A page of entries (`GET /content/{type}`). */
export type EntryPage = Schemas["EntryPage"];

/** A user as listed; on `/auth/me` also what the UI may offer beyond content types. */
export type User = Schemas["User"] & { permissions?: Schemas["Me"]["permissions"] };
/** A sign-in session of the caller's (`GET /auth/sessions`). */
export type SessionInfo = Schemas["Session"];
/** An API token as listed (never its secret). */
export type TokenInfo = Schemas["ApiToken"];
/** A record of the audit log. */
export type AuditRecord = Schemas["AuditRecord"];
/** One event of the change-event log. */
export type ChangeEvent = Schemas["ChangeEvent"];
/** The built-in role names and the custom roles. */
export type RoleList = Schemas["RoleList"];
export type CustomRole = Schemas["CustomRole"];

/** A media folder. */
export type MediaFolder = NonNullable<JsonOk<paths["/admin/api/v1/media/folders"]["get"]>["data"]>[number];
/** An entry that uses a media item, and whether its published version does. */
export type MediaUse = NonNullable<JsonOk<paths["/admin/api/v1/media/{id}/usage"]["get"]>["data"]>[number];

/** `GET /auth/me`: the signed-in user with what they may do. */
export type Me = JsonOk<paths["/admin/api/v1/auth/me"]["get"]>;

/** What signing in answers: signed in, or asked for the second factor (whose flag is always `true`). */
export type LoginAnswer = {
  data:
    | (Schemas["SecondFactorNeeded"] & { two_factor_required: true })
    | (Schemas["SignedIn"] & { two_factor_required?: undefined });
};
