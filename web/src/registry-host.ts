import { useEffect, useState } from 'react';
import { get } from './api';

let pending: Promise<string> | undefined;

/** The host clients pull from (`registry.example.com`), as the server names it. */
export function useRegistryHost(): string {
  const [host, setHost] = useState(location.host);
  useEffect(() => {
    pending ??= get<{ registryHost?: string }>('/registry-info').then(
      (info) => info.registryHost ?? location.host,
      () => location.host,
    );
    let live = true;
    pending.then((h) => live && setHost(h));
    return () => {
      live = false;
    };
  }, []);
  return host;
}

export const pullByTag = (host: string, repository: string, tag: string) => `docker pull ${host}/${repository}:${tag}`;
export const pullByDigest = (host: string, repository: string, digest: string) => `docker pull ${host}/${repository}@${digest}`;
