import { useEffect, useState } from 'react';
import { Link, useLocation, useSearchParams } from 'react-router';
import { api, listAll, type ApiError, type Links, type ManagedAccount } from '../api.ts';
import { asApiError, ErrorBox, Loading, Notice, PageTitle, Pager, TableRegion } from '../ui.tsx';

const PAGE_SIZE = 25;

/** The page number a `links` URL points at (links keep every parameter; only `page` changes between them). */
export function pageOf(link: string | null): number | null {
  if (!link) return null;
  return Number(new URL(link, location.origin).searchParams.get('page') ?? '1');
}

/**
 * Managed accounts: a page at a time through the API's `links`. The filter looks through every account (it follows
 * `links.next` over all pages) and matches name, contact email and email domain.
 */
export function Accounts() {
  const [params, setParams] = useSearchParams();
  const flash = (useLocation().state as { flash?: string } | null)?.flash;
  const page = Math.max(1, Number(params.get('page') ?? '1') || 1);
  const filter = params.get('q') ?? '';
  const [draft, setDraft] = useState(filter);
  const [round, setRound] = useState(0);
  // `for` names the page and filter a result belongs to: rows of an earlier query are never shown under a new one.
  const current = `${page}#${filter}#${round}`;
  const [result, setResult] = useState<{ for?: string; error?: ApiError; rows?: ManagedAccount[]; links?: Links; total?: number }>({});
  const state = result.for === current ? { ...result, loading: false } : { loading: true as const, rows: undefined, links: undefined, total: undefined, error: undefined };

  useEffect(() => setDraft(filter), [filter]);
  useEffect(() => {
    let live = true;
    const load = filter
      ? listAll<ManagedAccount>('/v2/managed_accounts?limit=1000', 'managed_accounts').then((all) => {
          const needle = filter.toLowerCase();
          const rows = all.filter((a) => [a.name, a.contact_email, a.email_domain ?? ''].some((v) => v.toLowerCase().includes(needle)));
          return { rows, total: all.length };
        })
      : api<{ links: Links; managed_accounts: ManagedAccount[] }>('GET', `/v2/managed_accounts?page=${page}&limit=${PAGE_SIZE}`).then((body) => ({
          rows: body.managed_accounts,
          links: body.links,
        }));
    load.then(
      (loaded) => live && setResult({ for: current, ...loaded }),
      (error) => live && setResult({ for: current, error: asApiError(error) }),
    );
    return () => {
      live = false;
    };
  }, [current]);

  const go = (target: number | null) => {
    if (target === null) return;
    setParams(target === 1 ? {} : { page: String(target) });
  };
  const last = pageOf(state.links?.last ?? null) ?? 1;

  return (
    <>
      <div className="page-head">
        <PageTitle title="Managed accounts">Managed accounts</PageTitle>
        <Link className="button primary" to="/accounts/new">
          Create managed account
        </Link>
      </div>
      {flash ? <Notice>{flash}</Notice> : null}
      <form
        className="filter"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setParams(draft.trim() ? { q: draft.trim() } : {});
        }}
      >
        <label htmlFor="account-filter">Filter by name, contact email or email domain</label>
        <div className="inline">
          <input id="account-filter" type="search" value={draft} onChange={(e) => setDraft(e.target.value)} />
          <button type="submit">Filter</button>
          {filter ? (
            <button type="button" onClick={() => setParams({})}>
              Clear
            </button>
          ) : null}
        </div>
      </form>
      <ErrorBox error={state.error} title="Could not load managed accounts" onRetry={() => setRound((r) => r + 1)} />
      {state.loading ? <Loading what="managed accounts" /> : null}
      {!state.loading && state.rows && state.rows.length === 0 && !filter && page === 1 ? (
        <div className="empty">
          <h2>No managed accounts yet</h2>
          <p>
            A managed account is one of your customers. <Link to="/accounts/new">Create the first one</Link> with its name and
            contact email; you can delegate integrations and assign billing rules in the same form.
          </p>
        </div>
      ) : null}
      {!state.loading && state.rows && state.rows.length === 0 && (filter || page > 1) ? (
        <p role="status">{filter ? `No managed account matches “${filter}”.` : 'This page is empty.'}</p>
      ) : null}
      {state.rows && state.rows.length > 0 ? (
        <>
          {filter ? (
            <p role="status">
              {state.rows.length} of {state.total} managed accounts match “{filter}”.
            </p>
          ) : null}
          <TableRegion label="Managed accounts">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Contact email</th>
                  <th scope="col">Email domain</th>
                  <th scope="col" className="num">
                    Rules
                  </th>
                  <th scope="col" className="num">
                    Integrations
                  </th>
                </tr>
              </thead>
              <tbody>
                {state.rows.map((a) => (
                  <tr key={a.token}>
                    <td>
                      <Link to={`/accounts/${a.token}`}>{a.name}</Link>
                    </td>
                    <td>{a.contact_email}</td>
                    <td>{a.email_domain ?? '—'}</td>
                    <td className="num">{a.billing_rule_tokens.length}</td>
                    <td className="num">{a.access_credential_tokens.length}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
        </>
      ) : null}
      {!filter && state.links && last > 1 ? (
        <Pager
          page={page}
          pages={last}
          back={{ label: 'Previous page', onClick: state.links.prev ? () => go(pageOf(state.links?.prev ?? null)) : undefined }}
          forward={{ label: 'Next page', onClick: state.links.next ? () => go(pageOf(state.links?.next ?? null)) : undefined }}
        />
      ) : null}
    </>
  );
}
