import { Link, useParams } from 'react-router';
import { api, listAll, type Integration } from '../api.ts';
import { Details, ErrorBox, formatTime, Loading, PageTitle, TableRegion, useLoad } from '../ui.tsx';

export function Integrations() {
  const { data, error, loading, reload } = useLoad(() => listAll<Integration>('/v2/integrations?limit=1000', 'integrations'), []);
  return (
    <>
      <PageTitle title="Integrations">Integrations</PageTitle>
      <p className="hint">
        Your cloud integrations, which you can delegate to managed accounts. AWS and Azure CSP integrations are added with{' '}
        <code>npx steward integrations create</code>; GCP, Azure and custom providers through the API as well.
      </p>
      <ErrorBox error={error} title="Could not load integrations" onRetry={reload} />
      {loading ? <Loading what="integrations" /> : null}
      {data && data.length === 0 ? <p role="status">You have no integrations yet.</p> : null}
      {data && data.length > 0 ? (
        <TableRegion label="Integrations">
          <table>
            <thead>
              <tr>
                <th scope="col">Provider</th>
                <th scope="col">Account identifier</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Managed accounts
                </th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {data.map((i) => (
                <tr key={i.token}>
                  <td>
                    <Link to={`/integrations/${i.token}`}>{i.provider}</Link>
                  </td>
                  <td>{i.account_identifier ?? '—'}</td>
                  <td>{i.status}</td>
                  <td className="num">{i.managed_account_tokens.length}</td>
                  <td>{formatTime(i.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      ) : null}
    </>
  );
}

export function IntegrationDetail() {
  const { token = '' } = useParams();
  const { data, error, loading, reload } = useLoad(() => api<Integration>('GET', `/v2/integrations/${encodeURIComponent(token)}`), [token]);
  const title = data ? `${data.provider} ${data.account_identifier ?? ''}`.trim() : 'Integration';
  return (
    <>
      <p className="breadcrumb">
        <Link to="/integrations">Integrations</Link>
      </p>
      <PageTitle title={title}>{title}</PageTitle>
      <ErrorBox error={error} title="Could not load the integration" onRetry={error?.status === 404 ? undefined : reload} />
      {loading ? <Loading what="the integration" /> : null}
      {data ? (
        <>
          <Details value={data as unknown as Record<string, unknown>} />
          <h2>Delegated to</h2>
          {data.managed_account_tokens.length === 0 ? (
            <p>No managed account.</p>
          ) : (
            <ul>
              {data.managed_account_tokens.map((t) => (
                <li key={t}>
                  <Link to={`/accounts/${t}`}>{t}</Link>
                </li>
              ))}
            </ul>
          )}
        </>
      ) : null}
    </>
  );
}
