import { useEffect, useState, type FormEvent } from 'react';
import { api, get } from '../api';
import { ErrorBanner, Loading, Section } from '../components/common';
import { Link, routes } from '../router';
import { formatBytes } from '../format';
import { useSession } from '../session';
import type { ProjectPolicy, ProjectPolicyView, ProjectQuota } from '../types';
import { useAction } from '../use-action';
import { useData } from '../use-data';

const base = (project: string) => `/projects/${encodeURIComponent(project)}`;
const list = (text: string) => text.split(/[\s,]+/).filter((p) => p !== '');
const number = (text: string) => (text.trim() === '' ? undefined : Number(text));

/** The form's fields, as text (empty: the rule is off). */
interface Fields {
  keepLatest: string;
  keepPatterns: string;
  dropPatterns: string;
  maxAgeDays: string;
  unpulledDays: string;
  deleteUntagged: boolean;
  untaggedGraceHours: string;
}

function fieldsOf(policy: ProjectPolicy): Fields {
  const r = policy.retention ?? {};
  return {
    keepLatest: r.keepLatest?.toString() ?? '',
    keepPatterns: (r.keepPatterns ?? []).join(', '),
    dropPatterns: (r.dropPatterns ?? []).join(', '),
    maxAgeDays: r.maxAgeDays?.toString() ?? '',
    unpulledDays: r.unpulledDays?.toString() ?? '',
    deleteUntagged: policy.deleteUntagged ?? true,
    untaggedGraceHours: policy.untaggedGraceHours?.toString() ?? '',
  };
}

function policyOf(f: Fields): ProjectPolicy {
  const retention = {
    ...(number(f.keepLatest) !== undefined ? { keepLatest: number(f.keepLatest) } : {}),
    ...(list(f.keepPatterns).length ? { keepPatterns: list(f.keepPatterns) } : {}),
    ...(list(f.dropPatterns).length ? { dropPatterns: list(f.dropPatterns) } : {}),
    ...(number(f.maxAgeDays) !== undefined ? { maxAgeDays: number(f.maxAgeDays) } : {}),
    ...(number(f.unpulledDays) !== undefined ? { unpulledDays: number(f.unpulledDays) } : {}),
  };
  return {
    ...(Object.keys(retention).length ? { retention } : {}),
    deleteUntagged: f.deleteUntagged,
    ...(number(f.untaggedGraceHours) !== undefined ? { untaggedGraceHours: number(f.untaggedGraceHours) } : {}),
  };
}

/** Retention rules and untagged-manifest handling of a project; project admins change them. */
export function Lifecycle({ project }: { project: string }) {
  const view = useData(() => get<ProjectPolicyView>(`${base(project)}/policy`), `policy:${project}`);
  const { error, run } = useAction(view.reload);
  const [fields, setFields] = useState<Fields>();
  useEffect(() => {
    if (view.data) setFields(fieldsOf(view.data.policy));
  }, [view.data]);
  const set = (patch: Partial<Fields>) => setFields((f) => (f ? { ...f, ...patch } : f));
  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (fields) await run(() => api('PUT', `${base(project)}/policy`, policyOf(fields)));
  };
  const text = (name: keyof Fields, label: string, hint: string, numeric = false) => (
    <label>
      {label}
      <input
        name={name}
        value={String(fields?.[name] ?? '')}
        onChange={(e) => set({ [name]: e.target.value })}
        placeholder={hint}
        {...(numeric ? { type: 'number', min: 0, inputMode: 'numeric' as const } : {})}
      />
    </label>
  );

  return (
    <Section title="Retention">
      <ErrorBanner error={view.error} />
      <Loading when={view.loading && !view.data} />
      {view.data && fields && (
        <>
          <p>
            {view.data.custom ? 'This project has its own policy.' : 'No policy: no tag is removed.'} Untagged manifests{' '}
            {view.data.policy.deleteUntagged ? `go after ${view.data.untaggedGraceHours} hours without a push, tag or pull` : 'are kept'}.
            Garbage collection applies it on its next run: a <Link to={routes.gc()}>dry run</Link> lists what it would remove.
          </p>
          <form className="form" onSubmit={save} aria-label="Retention policy">
            {text('keepLatest', 'Keep the newest tags', 'all', true)}
            {text('keepPatterns', 'Always keep tags matching', 'e.g. v*, latest')}
            {text('dropPatterns', 'Remove tags matching', 'e.g. pr-*')}
            {text('maxAgeDays', 'Remove tags pushed more than … days ago', 'never', true)}
            {text('unpulledDays', 'Remove tags not pulled for … days', 'never', true)}
            <label className="check">
              <input type="checkbox" name="deleteUntagged" checked={fields.deleteUntagged} onChange={(e) => set({ deleteUntagged: e.target.checked })} /> Remove untagged
              manifests
            </label>
            {text('untaggedGraceHours', '… after this many hours', `${view.data.untaggedGraceHours}`, true)}
            <div className="actions">
              <button type="submit" className="button primary">Save policy</button>
              {view.data.custom && (
                <button type="button" className="button" onClick={() => run(() => api('DELETE', `${base(project)}/policy`))}>
                  Remove policy
                </button>
              )}
            </div>
          </form>
          <ErrorBanner error={error} />
        </>
      )}
    </Section>
  );
}

const MIB = 1024 * 1024;

/** Storage used by the project against its quota; system admins set the quota here. */
export function Quota({ project }: { project: string }) {
  const { user } = useSession();
  const quota = useData(() => get<ProjectQuota>(`${base(project)}/quota`), `quota:${project}`);
  const { error, run } = useAction(quota.reload);
  const [limit, setLimit] = useState('');
  const data = quota.data;
  const admin = user?.admin === true;
  const save = async (event: FormEvent) => {
    event.preventDefault();
    const mib = number(limit);
    await run(() => api('PUT', `${base(project)}/quota`, { limitBytes: mib === undefined ? null : Math.round(mib * MIB) }));
  };
  return (
    <Section title="Storage quota">
      <ErrorBanner error={quota.error} />
      <Loading when={quota.loading && !data} />
      {data && (
        <>
          <p>
            Uses <strong>{formatBytes(data.usedBytes)}</strong>
            {data.limitBytes === null ? ', with no quota.' : <> of its <strong>{formatBytes(data.limitBytes)}</strong> quota.</>} Each blob counts once
            however many of the project's images use it; pushes past the quota are refused, and reaching {data.warnPercent} % is recorded in
            the audit log.
          </p>
          {data.limitBytes !== null && (
            <meter min={0} max={Math.max(1, data.limitBytes)} high={(data.limitBytes * data.warnPercent) / 100} value={data.usedBytes} aria-label="Share of the quota used" />
          )}
          {admin && (
            <form className="form inline" onSubmit={save} aria-label="Quota">
              <label>
                Quota in MiB
                <input name="quota" type="number" min={0} inputMode="numeric" value={limit} onChange={(e) => setLimit(e.target.value)} placeholder="none" />
              </label>
              <button type="submit" className="button primary">Set quota</button>
            </form>
          )}
          <ErrorBanner error={error} />
        </>
      )}
    </Section>
  );
}

