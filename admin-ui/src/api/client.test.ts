import { describe, expect, it, vi } from "vitest";
import { ApiError, Client, csrfToken } from "./client";

function answer(status: number, body?: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

describe("csrfToken", () => {
  it("reads the folio_csrf cookie among others", () => {
    expect(csrfToken("a=1; folio_csrf=abc%3D; b=2")).toBe("abc=");
    expect(csrfToken("a=1")).toBeUndefined();
    expect(csrfToken("")).toBeUndefined();
  });
});

describe("Client", () => {
  it("sends the CSRF header on writes only, with the cookie", async () => {
    const fetch = vi.fn(async () => answer(200, { data: [] }));
    const client = new Client({ fetch, cookies: () => "folio_csrf=tok" });
    await client.get("/types");
    await client.post("/content/article", { fields: {} });
    const [getUrl, getInit] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    const [postUrl, postInit] = fetch.mock.calls[1] as unknown as [string, RequestInit];
    expect(getUrl).toBe("/admin/api/v1/types");
    expect((getInit.headers as Record<string, string>)["x-csrf-token"]).toBeUndefined();
    expect(getInit.credentials).toBe("same-origin");
    expect(postUrl).toBe("/admin/api/v1/content/article");
    expect((postInit.headers as Record<string, string>)["x-csrf-token"]).toBe("tok");
    expect(postInit.body).toBe('{"fields":{}}');
  });

  it("turns error bodies into ApiError with fields and versions", async () => {
    const client = new Client({
      fetch: async () =>
        answer(422, {
          code: "validation_failed",
          message: "the entry is not valid",
          fields: { "fields.title": { code: "required", message: "title is required" } },
        }),
    });
    const err = await client.post("/content/article", {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.status).toBe(422);
    expect(e.code).toBe("validation_failed");
    expect(e.fields["fields.title"]?.code).toBe("required");

    const conflict = new Client({
      fetch: async () => answer(409, { code: "version_conflict", message: "changed", current_version: 7 }),
    });
    const c = (await conflict.post("/x", {}).catch((e: unknown) => e)) as ApiError;
    expect(c.currentVersion).toBe(7);
  });

  it("reports an expired session, but not a failed sign-in", async () => {
    const onUnauthenticated = vi.fn();
    const client = new Client({
      fetch: async () => answer(401, { code: "unauthenticated", message: "authentication is required" }),
      onUnauthenticated,
    });
    await client.get("/types").catch(() => undefined);
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    await client.post("/auth/login", { email: "a", password: "b" }).catch(() => undefined);
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
  });

  it("does not end a new session for a 401 about the old one", async () => {
    const onUnauthenticated = vi.fn();
    // The list request leaves before the session ends and is answered after the new sign-in.
    let answerList: (r: Response) => void = () => undefined;
    const client = new Client({
      fetch: async (input) =>
        String(input).endsWith("/auth/login")
          ? answer(200, { data: { user: { id: "u1" }, session: { id: "s1" } } })
          : new Promise<Response>((ok) => {
              answerList = ok;
            }),
      onUnauthenticated,
    });
    const mark = client.sessionMark();
    const list = client.get("/content/article").catch((e: unknown) => e);
    // Asked for the second factor: no session yet.
    const challenged = new Client({
      fetch: async () => answer(200, { data: { two_factor_required: true, challenge: "c" } }),
    });
    const before = challenged.sessionMark();
    await challenged.post("/auth/login", { email: "a", password: "b" });
    expect(challenged.signedInSince(before)).toBe(false);
    await client.post("/auth/login", { email: "a", password: "b" });
    expect(client.signedInSince(mark)).toBe(true);
    answerList(answer(401, { code: "unauthenticated", message: "authentication is required" }));
    expect(((await list) as ApiError).status).toBe(401);
    expect(onUnauthenticated).not.toHaveBeenCalled();
    // A request sent in the new session still reports its end.
    const again = client.get("/types").catch(() => undefined);
    answerList(answer(401, { code: "unauthenticated", message: "authentication is required" }));
    await again;
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
  });

  it("reports an unreachable server and a non-JSON error plainly", async () => {
    const down = new Client({
      fetch: async () => {
        throw new TypeError("failed to fetch");
      },
    });
    const e = (await down.get("/types").catch((e: unknown) => e)) as ApiError;
    expect(e.code).toBe("network_error");
    const proxy = new Client({ fetch: async () => new Response("<html>bad gateway</html>", { status: 502 }) });
    const p = (await proxy.get("/types").catch((e: unknown) => e)) as ApiError;
    expect(p.status).toBe(502);
    expect(p.code).toBe("http_502");
  });
});
