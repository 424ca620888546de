/** Loading data into screens: one value, or a keyset-paged list with previous/next. */
import { useEffect, useState } from "hono/jsx/dom";
import type { Page } from "./api";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return {
    data: state.data,
    error: state.error,
    loading: state.loading,
    reload: () => setTick((t) => t + 1),
  };
}

export interface Paged<T> extends Loaded<Page<T>> {
  rows: T[];
  hasPrevious: boolean;
  next: string | null;
  previousPage: () => void;
  nextPage: () => void;
}

/** Keyset pages: cursors already passed are kept, so "Previous page" goes back exactly. */
export function usePaged<T>(
  load: (cursor?: string) => Promise<Page<T>>,
  deps: unknown[],
): Paged<T> {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  // A change of filter starts again at the first page.
  useEffect(() => setCursors([undefined]), deps);
  const cursor = cursors[cursors.length - 1];
  const loaded = useLoad(() => load(cursor), [...deps, cursor]);
  return {
    ...loaded,
    rows: loaded.data?.data ?? [],
    hasPrevious: cursors.length > 1,
    next: loaded.data?.next_cursor ?? null,
    previousPage: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
    nextPage: () => {
      const n = loaded.data?.next_cursor;
      if (n) setCursors((c) => [...c, n]);
    },
  };
}

/** A form action's state: running, its error, and a wrapper that sets both. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function run<T>(action: () => Promise<T>): Promise<T | undefined> {
    setBusy(true);
    setError(null);
    try {
      return await action();
    } catch (err) {
      setError(err);
      return undefined;
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, setError, run };
}
