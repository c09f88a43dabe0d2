import { useEffect, useState, type FormEvent } from 'react';
import { api, get } from '../api';
import { ErrorBanner, Loading, Section } from '../components/common';
import { formatAge } from '../format';
import { Link, routes } from '../router';
import { ROLES, type StageRules } from '../types';
import { useData } from '../use-data';

/** A project's stage rules (who may promote in, from where) and immutable tag patterns. */
export function StageRulesSection({ project }: { project: string }) {
  const path = `/projects/${encodeURIComponent(project)}/rules`;
  const rules = useData(() => get<StageRules>(path), `rules:${project}`);
  const [minRole, setMinRole] = useState('');
  const [from, setFrom] = useState('');
  const [immutable, setImmutable] = useState('');
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    if (!rules.data) return;
    setMinRole(rules.data.promoteMinRole ?? '');
    setFrom(rules.data.promoteFrom ?? '');
    setImmutable(rules.data.immutableTags.join(', '));
  }, [rules.data]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    setSaved(false);
    try {
      await api('PUT', path, {
        promoteMinRole: minRole || null,
        promoteFrom: from.trim() || null,
        immutableTags: immutable.split(/[\s,]+/).filter(Boolean),
      });
      setSaved(true);
      rules.reload();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <Section title="Stage rules and immutable tags">
      <ErrorBanner error={rules.error} />
      <Loading when={rules.loading && !rules.data} />
      {rules.data && (
        <form className="form narrow" onSubmit={save}>
          <label>
            Who may promote into {project}
            <select name="promoteMinRole" value={minRole} onChange={(e) => setMinRole(e.target.value)}>
              <option value="">anyone who may promote (developer and up)</option>
              {ROLES.filter((r) => r !== 'guest').map((r) => (
                <option key={r} value={r}>{r} and above</option>
              ))}
            </select>
          </label>
          <label>
            Only images promoted into this project first
            <input name="promoteFrom" placeholder="none" value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label>
            Immutable tags (patterns, * for all)
            <input name="immutableTags" placeholder="e.g. v*, release-*" value={immutable} onChange={(e) => setImmutable(e.target.value)} />
          </label>
          <p className="muted">
            For promotion, testers rank above developers. Immutable tags never move and cannot be deleted.
            {rules.data.updatedBy ? ` Last changed by ${rules.data.updatedBy} ${formatAge(rules.data.updatedAt)}.` : ''}
          </p>
          <div className="actions">
            <button type="submit" className="button primary">Save rules</button>
          </div>
          {saved && <p className="notice" role="status">Rules saved.</p>}
          <ErrorBanner error={error} />
        </form>
      )}
      <p>
        <Link to={routes.webhooks(project)}>Webhooks of {project}</Link>
      </p>
    </Section>
  );
}
