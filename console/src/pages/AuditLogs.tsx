import { useEffect, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, type ApiError, type AuditLog, type Links } from '../api.ts';
import { asApiError, ErrorBox, formatTime, Loading, PageTitle, Pager, TableRegion } from '../ui.tsx';
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
 * The audit log, newest first, in full pages of 25. The API lists oldest first: the console reads its first and last
 * pages (`links.last`) to know how many records match, then the one or two API pages that hold the wanted newest-first
 * page. Filters are the API's own query parameters; `page` in the console's URL counts from the newest.
 */
export function AuditLogs() {
  const [params, setParams] = useSearchParams();
  const filters = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? ''])) as Record<(typeof FILTERS)[number], string>;
  const page = Math.max(1, Number(params.get('page') ?? '1') || 1);
  const [draft, setDraft] = useState(filters);
  // `for` names the filters and page a result belongs to: rows of an earlier query are never shown under new filters.
  const [state, setState] = useState<{ for?: string; error?: ApiError; logs?: AuditLog[]; page?: number; pages?: number }>({});
  const [round, setRound] = useState(0);
  const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v !== ''));
  query.set('limit', String(PAGE_SIZE));
  const key = query.toString();
  const current = `${key}#${page}#${round}`;
  const loading = state.for !== current;

  useEffect(() => setDraft(filters), [key]);
  useEffect(() => {
    let live = true;
    (async () => {
      type Body = { links: Links; audit_logs: AuditLog[] };
      const fetched = new Map<number, Body>();
      const get = async (n: number) => fetched.get(n) ?? fetched.set(n, await api<Body>('GET', `/v2/audit_logs?${key}&page=${n}`)).get(n)!;
      const lastPage = pageOf((await get(1)).links.last) ?? 1;
      const total = (lastPage - 1) * PAGE_SIZE + (await get(lastPage)).audit_logs.length;
      const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
      const shown = Math.min(page, pages);
      const end = total - (shown - 1) * PAGE_SIZE; // records [start, end) in oldest-first order
      const start = Math.max(0, end - PAGE_SIZE);
      const logs: AuditLog[] = [];
      for (let n = Math.floor(start / PAGE_SIZE) + 1; end > 0 && n <= Math.floor((end - 1) / PAGE_SIZE) + 1; n++) {
        (await get(n)).audit_logs.forEach((log, i) => {
          const index = (n - 1) * PAGE_SIZE + i;
          if (index >= start && index < end) logs.push(log);
        });
      }
      return { logs: logs.reverse(), page: shown, pages };
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
  const goTo = (target: number) => {
    const next = new URLSearchParams(params);
    if (target === 1) next.delete('page');
    else next.set('page', String(target));
    setParams(next);
  };
  const shown = state.page ?? 1;
  const pages = state.pages ?? 1;

  return (
    <>
      <PageTitle title="Audit log">Audit log</PageTitle>
      <form className="filters" onSubmit={apply} aria-label="Filter the audit log">
        <FilterSelect id="audit-object-type" label="Object" all="All objects" options={OBJECT_TYPES} value={draft.object_type} onChange={(object_type) => setDraft({ ...draft, object_type })} />
        <FilterSelect id="audit-action" label="Event" all="All events" options={ACTIONS} value={draft.action} onChange={(action) => setDraft({ ...draft, action })} />
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
      {!loading && pages > 1 ? (
        <Pager
          page={shown}
          pages={pages}
          back={{ label: 'Newer', onClick: shown > 1 ? () => goTo(shown - 1) : undefined }}
          forward={{ label: 'Older', onClick: shown < pages ? () => goTo(shown + 1) : undefined }}
        />
      ) : null}
    </>
  );
}

function FilterSelect({
  id,
  label,
  all,
  options,
  value,
  onChange,
}: {
  id: string;
  label: string;
  all: string;
  options: Array<[string, string]>;
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">{all}</option>
        {options.map(([option, text]) => (
          <option key={option} value={option}>
            {text}
          </option>
        ))}
      </select>
    </div>
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
      <td className="nowrap" data-label="When">{formatTime(log.created_at)}</td>
      <td data-label="What">
        {log.object_type} {link ? <Link to={link}>{log.object_title}</Link> : <strong>{log.object_title}</strong>} {EVENT_LABEL[log.event]}
        <div className="muted">
          <code>{log.object_token}</code>
        </div>
      </td>
      <td data-label="Who">
        {log.user}
        <div className="muted">{log.source}</div>
      </td>
      <td data-label="Changes">
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
