// Reading what a page shows: the request runs when the page opens and again whenever what it
// depends on changes, with the state to show meanwhile (loading, the answer, what went wrong)
// and a reload for after the page changed something. An answer that arrives after the page
// moved on (other inputs, a newer reload, the page closed) is dropped, so a slow answer never
// overwrites a newer one. Writes do not belong here: they go through `useSubmit` or the client.

import { useCallback, useEffect, useRef, useState, type DependencyList } from "react";
import { useSession } from "../session";

export interface LoadState<T> {
  /** The answer: kept through a reload, dropped when the inputs change. */
  data: T | undefined;
  /** Why the latest request failed; null when it did not. */
  error: unknown;
  /** Whether a request is on its way. */
  loading: boolean;
}

export interface Loaded<T> extends LoadState<T> {
  /** Asks again; the current answer stays on screen until the new one arrives. */
  reload: () => void;
}

// One object, so that the hook's first state and a fresh start compare equal and React skips
// the extra render.
const STARTING: LoadState<never> = Object.freeze({ data: undefined, error: null, loading: true });

/**
 * Runs `load` now and again on each `reload`, telling `report` every change of state; only the
 * latest request's answer counts, and after `stop` nothing is reported. Kept apart from React
 * so that it can be tested without a browser.
 */
export function startLoad<T>(
  load: () => Promise<T>,
  report: (state: LoadState<T>) => void,
): { reload: () => void; stop: () => void } {
  let state: LoadState<T> = STARTING;
  let latest = 0;
  let stopped = false;
  const set = (next: LoadState<T>) => {
    state = next;
    report(next);
  };
  const run = () => {
    if (stopped) return;
    const mine = ++latest;
    if (!state.loading) set({ ...state, loading: true });
    const current = () => !stopped && mine === latest;
    // A `load` that throws before it returns a promise fails like one that rejects.
    new Promise<T>((resolve) => resolve(load())).then(
      (data) => current() && set({ data, error: null, loading: false }),
      (error: unknown) => current() && set({ data: state.data, error, loading: false }),
    );
  };
  set(STARTING);
  run();
  return {
    reload: run,
    stop: () => {
      stopped = true;
    },
  };
}

/** Whether two dependency lists name the same inputs (as React compares them). */
export function sameDeps(a: DependencyList, b: DependencyList): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

/**
 * What `load` answers, asked again whenever `deps` change (which must name everything `load`
 * reads, as with `useEffect`). New inputs start from nothing: the answer on screen was for the
 * old ones, so it is not shown even for the one render before the new request starts.
 */
export function useLoad<T>(load: () => Promise<T>, deps: DependencyList): Loaded<T> {
  // The state, with the inputs it belongs to.
  const [held, setHeld] = useState<{ deps: DependencyList; state: LoadState<T> }>(() => ({
    deps,
    state: STARTING,
  }));
  const reloadCurrent = useRef<() => void>(() => {});
  useEffect(() => {
    const running = startLoad(load, (state) =>
      // The same state for the same inputs keeps the same object: React skips the render.
      setHeld((prev) => (prev.state === state && sameDeps(prev.deps, deps) ? prev : { deps, state })),
    );
    reloadCurrent.current = running.reload;
    return running.stop;
    // `load` is a new closure on every render; `deps` say when it asks something new.
  }, deps);
  const reload = useCallback(() => reloadCurrent.current(), []);
  const state = sameDeps(held.deps, deps) ? held.state : (STARTING as LoadState<T>);
  return { ...state, reload };
}

/** `GET path` with the session's client, asked again whenever `path` changes. */
export function useGet<T>(path: string): Loaded<T> {
  const { client } = useSession();
  return useLoad(() => client.get<T>(path), [client, path]);
}
