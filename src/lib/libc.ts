/**
 * The few glibc functions Wharf needs and Node does not expose, through koffi (a C FFI with
 * prebuilt binaries), loaded once, at first use. Where there is no glibc (musl, macOS) or the FFI
 * does not load, the reason is returned instead and the caller does without. Loading costs some
 * 5 MiB of RSS (docs/benchmarks.md, "Eighth session").
 */
export interface Libc {
  /** `malloc_trim(0)`: gives the heap's free memory back to the system. */
  mallocTrim(): void;
  /**
   * `accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)`: the descriptor of a connection
   * waiting on the listening socket `fd`, or -1 when none waits (EAGAIN) or accept failed.
   */
  acceptNonBlocking(fd: number): number;
}

export type LibcOrReason = Libc | { unavailable: string };

const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;

let loading: Promise<LibcOrReason> | undefined;

export function loadLibc(): Promise<LibcOrReason> {
  return (loading ??= load());
}

async function load(): Promise<LibcOrReason> {
  if (process.platform !== 'linux') return { unavailable: `no glibc on ${process.platform}` };
  try {
    const { default: koffi } = await import('koffi');
    const libc = koffi.load('libc.so.6');
    const mallocTrim = libc.func('int malloc_trim(size_t pad)');
    const accept4 = libc.func('int accept4(int fd, void *addr, void *addrlen, int flags)');
    return {
      mallocTrim: () => void mallocTrim(0),
      acceptNonBlocking: (fd) => accept4(fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC) as number,
    };
  } catch (error) {
    return { unavailable: error instanceof Error ? error.message : String(error) };
  }
}
