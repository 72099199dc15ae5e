import { useEffect, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, type ApiError, type AuditLog, type Links } from '../api.ts';
import { asApiError, ErrorBox, formatTime, Loading, PageTitle, TableRegion } from '../ui.tsx';
import { pageOf } from './Accounts.tsx';

const PAGE_SIZE = 25;
const OBJECT_TYPES: Array<[string, string]> = [
  ['managed_account', 'Managed account'],
  ['billing_rule', 'Billing rule'],
  ['integration', 'Integration'],
  ['billing_profile', 'Billing profile'],
  ['sso_connection', 'SSO connection'],
  ['managed_account_integration', 'Delegation'],
];
const ACTIONS: Array<[string, string]> = [
  ['create', 'Created'],
  ['update', 'Updated'],
  ['delete', 'Deleted'],
];
const EVENT_LABEL: Record<AuditLog['event'], string> = { record_created: 'created', record_updated: 'updated', record_destroyed: 'deleted' };
const FILTERS = ['object_type', 'action', 'object_token'] as const;

/** Where each kind of object can be looked at in the console. */
function objectLink(log: AuditLog): string | null {
  if (log.event === 'record_destroyed') return null;
  switch (log.object_type) {
    case 'ManagedAccount':
    case 'SsoConnection':
    case 'ManagedAccountIntegration':
      return `/accounts/${log.object_token}`;
    case 'BillingRule':
      return `/billing-rules/${log.object_token}`;
    case 'Integration':
      return `/integrations/${log.object_token}`;
    case 'BillingProfile':
      return `/billing-profiles/${log.object_token}`;
    default:
      return null;
  }
}

/**
 * The audit log, newest first. The API lists oldest first, so the console starts from `links.last` and walks back
 * through `links.prev`; filters are the API's own query parameters.
 */
export function AuditLogs() {
  const [params, setParams] = useSearchParams();
  const filters = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? ''])) as Record<(typeof FILTERS)[number], string>;
  const page = params.get('page');
  const [draft, setDraft] = useState(filters);
  // `for` names the filters and page a result belongs to: rows of an earlier query are never shown under new filters.
  const [state, setState] = useState<{ for?: string; error?: ApiError; logs?: AuditLog[]; links?: Links; page?: number }>({});
  const [round, setRound] = useState(0);
  const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v !== ''));
  query.set('limit', String(PAGE_SIZE));
  const key = query.toString();
  const current = `${key}#${page ?? 'newest'}#${round}`;
  const loading = state.for !== current;

  useEffect(() => setDraft(filters), [key]);
  useEffect(() => {
    let live = true;
    (async () => {
      type Body = { links: Links; audit_logs: AuditLog[] };
      let body = await api<Body>('GET', `/v2/audit_logs?${key}&page=${page ?? 1}`);
      if (!page && body.links.next) body = await api<Body>('GET', body.links.last);
      return { logs: [...body.audit_logs].reverse(), links: body.links, page: pageOf(body.links.self) ?? 1 };
    })().then(
      (result) => live && setState({ for: current, ...result }),
      (error) => live && setState({ for: current, error: asApiError(error) }),
    );
    return () => {
      live = false;
    };
  }, [current]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setParams(Object.fromEntries(Object.entries(draft).filter(([, v]) => v.trim() !== '').map(([k, v]) => [k, v.trim()])));
  };
  const goTo = (link: string | null) => {
    const target = pageOf(link);
    if (target === null) return;
    const next = new URLSearchParams(params);
    next.set('page', String(target));
    setParams(next);
  };
  const last = pageOf(state.links?.last ?? null) ?? 1;

  return (
    <>
      <PageTitle title="Audit log">Audit log</PageTitle>
      <form className="filters" onSubmit={apply} aria-label="Filter the audit log">
        <div className="field">
          <label htmlFor="audit-object-type">Object</label>
          <select id="audit-object-type" value={draft.object_type} onChange={(e) => setDraft({ ...draft, object_type: e.target.value })}>
            <option value="">All objects</option>
            {OBJECT_TYPES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-action">Event</label>
          <select id="audit-action" value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.target.value })}>
            <option value="">All events</option>
            {ACTIONS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-object-token">Object token</label>
          <input id="audit-object-token" value={draft.object_token} onChange={(e) => setDraft({ ...draft, object_token: e.target.value })} placeholder="acct_…" />
        </div>
        <div className="actions">
          <button type="submit">Apply filters</button>
          {[...params.keys()].length > 0 ? (
            <button type="button" onClick={() => setParams({})}>
              Clear
            </button>
          ) : null}
        </div>
      </form>
      {loading ? <Loading what="the audit log" /> : <ErrorBox error={state.error} title="Could not load the audit log" onRetry={() => setRound((r) => r + 1)} />}
      {!loading && state.logs && state.logs.length === 0 ? <p role="status">No audit records match.</p> : null}
      {!loading && state.logs && state.logs.length > 0 ? (
        <TableRegion label="Audit records, newest first">
          <table className="audit">
            <thead>
              <tr>
                <th scope="col">When (UTC)</th>
                <th scope="col">What</th>
                <th scope="col">Who</th>
                <th scope="col">Changes (old → new)</th>
              </tr>
            </thead>
            <tbody>
              {state.logs.map((log) => (
                <AuditRow key={log.token} log={log} />
              ))}
            </tbody>
          </table>
        </TableRegion>
      ) : null}
      {!loading && state.links && last > 1 ? (
        <nav className="pager" aria-label="Pages">
          <button type="button" onClick={() => goTo(state.links?.next ?? null)} disabled={!state.links.next}>
            Newer
          </button>
          <span>
            Page {last - (state.page ?? 1) + 1} of {last}
          </span>
          <button type="button" onClick={() => goTo(state.links?.prev ?? null)} disabled={!state.links.prev}>
            Older
          </button>
        </nav>
      ) : null}
    </>
  );
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function AuditRow({ log }: { log: AuditLog }) {
  const link = objectLink(log);
  const changes = Object.entries(log.changed_values);
  const list = (
    <ul className="changes">
      {changes.map(([field, [before, after]]) => (
        <li key={field}>
          <span className="field-name">{field}</span>: <span className="old">{show(before)}</span> <span aria-label="changed to">→</span>{' '}
          <span className="new">{show(after)}</span>
        </li>
      ))}
    </ul>
  );
  return (
    <tr data-event={log.event} data-object-token={log.object_token}>
      <td className="nowrap">{formatTime(log.created_at)}</td>
      <td>
        {log.object_type} {link ? <Link to={link}>{log.object_title}</Link> : <strong>{log.object_title}</strong>} {EVENT_LABEL[log.event]}
        <div className="muted">
          <code>{log.object_token}</code>
        </div>
      </td>
      <td>
        {log.user}
        <div className="muted">{log.source}</div>
      </td>
      <td>
        {changes.length === 0 ? (
          <span className="muted">no field changed</span>
        ) : log.event === 'record_updated' ? (
          list
        ) : (
          <details>
            <summary>
              {changes.length} field{changes.length === 1 ? '' : 's'}
            </summary>
            {list}
          </details>
        )}
      </td>
    </tr>
  );
}
