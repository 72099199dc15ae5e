import { Link, useParams } from 'react-router';
import { api, listAll, type BillingProfile } from '../api.ts';
import { Details, ErrorBox, Loading, PageTitle, TableRegion, useLoad } from '../ui.tsx';

export function BillingProfiles() {
  const { data, error, loading, reload } = useLoad(() => listAll<BillingProfile>('/v2/billing_profiles?limit=1000', 'billing_profiles'), []);
  return (
    <>
      <PageTitle title="Billing profiles">Billing profiles</PageTitle>
      <p className="hint">
        The invoicing identities you bill managed accounts from (MSP invoicing). Add them with{' '}
        <code>npx steward billing-profiles create</code> or the API.
      </p>
      <ErrorBox error={error} title={error?.status === 403 ? 'Billing profiles are not available to this account' : 'Could not load billing profiles'} onRetry={error?.status === 403 ? undefined : reload} />
      {loading ? <Loading what="billing profiles" /> : null}
      {data && data.length === 0 ? <p role="status">You have no billing profiles yet.</p> : null}
      {data && data.length > 0 ? (
        <TableRegion label="Billing profiles">
          <table>
            <thead>
              <tr>
                <th scope="col">Nickname</th>
                <th scope="col">Token</th>
              </tr>
            </thead>
            <tbody>
              {data.map((p) => (
                <tr key={p.token}>
                  <td>
                    <Link to={`/billing-profiles/${p.token}`}>{p.nickname}</Link>
                  </td>
                  <td>
                    <code>{p.token}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      ) : null}
    </>
  );
}

export function BillingProfileDetail() {
  const { token = '' } = useParams();
  const { data, error, loading, reload } = useLoad(() => api<BillingProfile>('GET', `/v2/billing_profiles/${encodeURIComponent(token)}`), [token]);
  const title = data?.nickname ?? 'Billing profile';
  return (
    <>
      <p className="breadcrumb">
        <Link to="/billing-profiles">Billing profiles</Link>
      </p>
      <PageTitle title={title}>{title}</PageTitle>
      <ErrorBox error={error} title="Could not load the billing profile" onRetry={error?.status === 404 ? undefined : reload} />
      {loading ? <Loading what="the billing profile" /> : null}
      {data ? <Details value={withoutSecureData(data)} /> : null}
    </>
  );
}

/**
 * Banking secure data (account and routing numbers, IBAN, …) comes back from the API as stored; the console never
 * renders it, only which parts are set.
 */
function withoutSecureData(profile: BillingProfile): Record<string, unknown> {
  const banking = profile.banking_information_attributes as Record<string, unknown> | null | undefined;
  if (!banking || typeof banking !== 'object' || !('secure_data' in banking)) return profile;
  const secure = (banking.secure_data ?? {}) as Record<string, unknown>;
  const set = Object.keys(secure).filter((k) => secure[k] !== null && secure[k] !== '');
  return { ...profile, banking_information_attributes: { ...banking, secure_data: set.length ? `set (${set.join(', ')}; not shown)` : null } };
}
