import { useState, type FormEvent } from 'react';
import { api, exchangeClientCredentials, session, type Me } from '../api.ts';
import { asApiError, Button, ErrorBox, Field, Notice, PageTitle } from '../ui.tsx';
import type { ApiError } from '../api.ts';

/**
 * Sign in with an API token, or with an OAuth client's id and secret (exchanged once at /oauth/token for a
 * short-lived token). Either way the token is checked with GET /v2/me before it is kept, in this tab's
 * sessionStorage only; the secret is not kept at all.
 */
export function SignIn({ reason, onSignedIn }: { reason: string | null; onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [clientId, setClientId] = useState('');
  const [clientSecret, setClientSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [tokenError, setTokenError] = useState<ApiError | null>(null);
  const [clientError, setClientError] = useState<ApiError | null>(null);

  const keep = async (candidate: string) => {
    await api<Me>('GET', '/v2/me', undefined, candidate);
    session.signIn(candidate);
    onSignedIn();
  };

  const withToken = async (event: FormEvent) => {
    event.preventDefault();
    if (busy || token.trim() === '') return;
    setBusy(true);
    setTokenError(null);
    try {
      await keep(token.trim());
    } catch (e) {
      setTokenError(asApiError(e));
      setBusy(false);
    }
  };

  const withClient = async (event: FormEvent) => {
    event.preventDefault();
    if (busy || clientId.trim() === '' || clientSecret === '') return;
    setBusy(true);
    setClientError(null);
    try {
      const accessToken = await exchangeClientCredentials(clientId.trim(), clientSecret);
      setClientSecret('');
      await keep(accessToken);
    } catch (e) {
      setClientError(asApiError(e));
      setBusy(false);
    }
  };

  return (
    <main id="main" className="sign-in">
      <PageTitle title="Sign in">Sign in to the Steward console</PageTitle>
      {reason ? <Notice>{reason}</Notice> : null}
      <p>
        The console works through Steward&apos;s public API with your token. The token is kept in this browser tab only
        and forgotten when you sign out or close the tab.
      </p>
      <div className="sign-in-forms">
        <form onSubmit={withToken} aria-labelledby="with-token">
          <h2 id="with-token">With an API token</h2>
          <Field
            label="API token"
            name="token"
            type="password"
            value={token}
            onChange={setToken}
            required
            hint="vntg_tkn_…, from npm start or npx steward tokens create"
          />
          <ErrorBox error={tokenError} title="Could not sign in" />
          <Button type="submit" className="primary" disabled={busy || token.trim() === ''}>
            Sign in
          </Button>
        </form>
        <form onSubmit={withClient} aria-labelledby="with-client">
          <h2 id="with-client">With an OAuth client</h2>
          <Field label="Client ID" name="client_id" value={clientId} onChange={setClientId} required hint="stw_client_…" />
          <Field label="Client secret" name="client_secret" type="password" value={clientSecret} onChange={setClientSecret} required />
          <ErrorBox error={clientError} title="Could not sign in" />
          <Button type="submit" className="primary" disabled={busy || clientId.trim() === '' || clientSecret === ''}>
            Sign in
          </Button>
        </form>
      </div>
    </main>
  );
}
