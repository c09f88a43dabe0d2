/**
 * A copy of `target` (an object of async methods, or of such objects one level down, like the
 * metadata store) whose methods' rejections pass through `map` (called with "<object>.<method>"),
 * which returns the error to reject with instead. Same keys, same call signatures; synchronous
 * results and resolved values are untouched.
 */
export function mapRejections<T extends object>(target: T, map: (operation: string, error: unknown) => unknown): T {
  const wrap = (owner: object, name: string, method: (...args: unknown[]) => unknown) =>
    function (this: unknown, ...args: unknown[]): unknown {
      const result = method.apply(owner, args);
      if (!(result instanceof Promise)) return result;
      return result.catch((error: unknown) => {
        throw map(name, error);
      });
    };
  const copy = (source: object, prefix: string, depth: number): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(source)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (typeof value === 'function') out[key] = wrap(source, name, value as (...args: unknown[]) => unknown);
      else if (depth > 0 && isPlainObject(value)) out[key] = copy(value, name, depth - 1);
      else out[key] = value;
    }
    return out;
  };
  return copy(target, '', 1) as T;
}

const isPlainObject = (value: unknown): value is object =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
