// What a page sees of its data while it loads: the states `useLoad` shows, driven through
// `startLoad` as the hook drives it (a new `startLoad` when the inputs change, the old one
// stopped first; `stop` when the page closes). Requests are promises the test settles by hand,
// in whatever order it needs.

import { describe, expect, it, vi } from "vitest";
import { type LoadState, sameDeps, startLoad } from "./load";

function request<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every settled promise's callbacks run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

function recorder<T>() {
  const seen: LoadState<T>[] = [];
  return { seen, report: (s: LoadState<T>) => seen.push(s), last: () => seen[seen.length - 1] };
}

const loading = { data: undefined, error: null, loading: true };

describe("startLoad", () => {
  it("reports loading, then the answer", async () => {
    const r = recorder<string>();
    const answer = request<string>();
    startLoad(() => answer.promise, r.report);
    expect(r.seen).toEqual([loading]);
    answer.resolve("users");
    await settle();
    expect(r.seen).toEqual([loading, { data: "users", error: null, loading: false }]);
  });

  it("reports a failure, whether the request rejects or throws, and a reload that works clears it", async () => {
    const r = recorder<string>();
    const failure = new Error("503");
    const load = vi
      .fn<() => Promise<string>>()
      .mockRejectedValueOnce(failure)
      .mockImplementationOnce(() => {
        throw failure;
      })
      .mockResolvedValueOnce("back");
    const running = startLoad(load, r.report);
    await settle();
    expect(r.last()).toEqual({ data: undefined, error: failure, loading: false });
    running.reload();
    await settle();
    expect(r.last()).toEqual({ data: undefined, error: failure, loading: false });
    running.reload();
    // The error stays on screen while it asks again.
    expect(r.last()).toEqual({ data: undefined, error: failure, loading: true });
    await settle();
    expect(r.last()).toEqual({ data: "back", error: null, loading: false });
  });

  it("keeps the answer on screen through a reload, and through a reload that fails", async () => {
    const r = recorder<number>();
    const first = request<number>();
    const second = request<number>();
    const running = startLoad(vi.fn().mockReturnValueOnce(first.promise).mockReturnValueOnce(second.promise), r.report);
    first.resolve(1);
    await settle();
    running.reload();
    expect(r.last()).toEqual({ data: 1, error: null, loading: true });
    const failure = new Error("gone");
    second.reject(failure);
    await settle();
    expect(r.last()).toEqual({ data: 1, error: failure, loading: false });
  });

  it("drops the answer for inputs that changed meanwhile, whichever arrives first", async () => {
    for (const order of ["old first", "new first"]) {
      const r = recorder<string>();
      const folderA = request<string>();
      const folderB = request<string>();
      const a = startLoad(() => folderA.promise, r.report);
      // The editor opens folder B before folder A's files arrived.
      a.stop();
      startLoad(() => folderB.promise, r.report);
      if (order === "old first") {
        folderA.resolve("files of A");
        await settle();
        folderB.resolve("files of B");
      } else {
        folderB.resolve("files of B");
        await settle();
        folderA.resolve("files of A");
      }
      await settle();
      expect(r.seen, order).toEqual([loading, loading, { data: "files of B", error: null, loading: false }]);
    }
  });

  it("of two reloads on their way, only the later one's answer counts", async () => {
    const r = recorder<string>();
    const answers = [request<string>(), request<string>(), request<string>()];
    let n = 0;
    const running = startLoad(() => answers[n++]!.promise, r.report);
    answers[0]!.resolve("v1");
    await settle();
    running.reload();
    running.reload();
    answers[2]!.resolve("v3");
    await settle();
    answers[1]!.resolve("v2");
    await settle();
    expect(r.last()).toEqual({ data: "v3", error: null, loading: false });
    expect(r.seen.map((s) => s.data)).not.toContain("v2");
  });

  it("reports nothing once stopped, and a reload then asks nothing", async () => {
    const r = recorder<string>();
    const answer = request<string>();
    const load = vi.fn(() => answer.promise);
    const running = startLoad(load, r.report);
    running.stop();
    answer.resolve("too late");
    await settle();
    running.reload();
    expect(r.seen).toEqual([loading]);
    expect(load).toHaveBeenCalledTimes(1);
  });
});

describe("sameDeps", () => {
  it("compares inputs one by one, as React does", () => {
    const client = {};
    expect(sameDeps([client, "/types"], [client, "/types"])).toBe(true);
    expect(sameDeps([client, "/types"], [{}, "/types"])).toBe(false);
    expect(sameDeps([client, "/types"], [client, "/types/tag"])).toBe(false);
    expect(sameDeps([NaN], [NaN])).toBe(true);
    expect(sameDeps([1], [1, 2])).toBe(false);
  });
});
