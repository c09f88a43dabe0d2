import { useState } from 'react';

/** Runs a change against the API, then reloads what it changed; keeps the refusal to show. */
export function useAction(reload: () => void) {
  const [error, setError] = useState<string>();
  const run = async (work: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await work();
      reload();
      return true;
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      return false;
    }
  };
  return { error, run };
}
