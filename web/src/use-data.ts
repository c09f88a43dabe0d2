import { useCallback, useEffect, useRef, useState } from 'react';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload(): void;
}

/** Runs `load` whenever `key` changes; the newest answer wins. */
export function useData<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const id = ++latest.current;
    setState((s) => ({ ...s, loading: true }));
    loadRef.current().then(
      (data) => id === latest.current && setState({ data, loading: false }),
      (error: unknown) => id === latest.current && setState({ error: error instanceof Error ? error : new Error(String(error)), loading: false }),
    );
  }, [key, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}
