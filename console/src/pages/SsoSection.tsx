import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, type AuditLog, type Links, type ManagedAccount } from '../api.ts';
import { asApiError, Button, ConfirmDialog, ErrorBox, Field, Loading, Notice, splitErrors } from '../ui.tsx';

interface Connection {
  saml_metadata_url: string;
  additional_domains: string[];
}

/**
 * The API never returns an SSO connection (the contract's ManagedAccount has no SSO fields), but every change to one
 * is in the audit log with its values: the latest record says whether one exists and what it holds.
 */
async function currentConnection(accountToken: string): Promise<Connection | null> {
  const query = `/v2/audit_logs?object_type=sso_connection&object_token=${encodeURIComponent(accountToken)}&limit=1`;
  const first = await api<{ links: Links; audit_logs: AuditLog[] }>('GET', query);
  const lastPage = first.links.last === first.links.self || !first.links.next ? first : await api<{ links: Links; audit_logs: AuditLog[] }>('GET', first.links.last);
  const latest = lastPage.audit_logs.at(-1);
  if (!latest || latest.event === 'record_destroyed') return null;
  const value = (key: string) => (key in latest.changed_values ? latest.changed_values[key]?.[1] : latest.unchanged_values[key]);
  return { saml_metadata_url: String(value('saml_metadata_url') ?? ''), additional_domains: (value('additional_domains') as string[] | undefined) ?? [] };
}

const FIELDS = ['type', 'saml_metadata_url', 'additional_domains', 'email_domain', 'sso_connection'];

export function SsoSection({ account }: { account: ManagedAccount }) {
  const [connection, setConnection] = useState<Connection | null | undefined>(undefined);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [url, setUrl] = useState('');
  const [domains, setDomains] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [round, setRound] = useState(0);

  useEffect(() => {
    let live = true;
    currentConnection(account.token).then(
      (c) => {
        if (!live) return;
        setConnection(c);
        setUrl(c?.saml_metadata_url ?? '');
        setDomains((c?.additional_domains ?? []).join(', '));
      },
      (e) => live && setLoadError(asApiError(e)),
    );
    return () => {
      live = false;
    };
  }, [account.token, round]);

  const { byField, rest } = splitErrors(error?.messages ?? [], FIELDS);
  const path = `/v2/managed_accounts/${account.token}/sso_connection`;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const body = { type: 'saml', saml_metadata_url: url, additional_domains: domains.split(/[,\s]+/).filter(Boolean) };
      await api(connection ? 'PUT' : 'POST', path, body);
      setNotice(connection ? 'SSO connection updated.' : 'SSO connection created.');
      setRound((r) => r + 1);
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    setBusy(true);
    try {
      await api('DELETE', path);
      setNotice('SSO connection removed.');
      setRound((r) => r + 1);
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setConfirming(false);
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="sso-heading" className="subsection">
      <h2 id="sso-heading">SAML SSO connection</h2>
      {!account.email_domain ? (
        <p className="hint">Give the account an email domain (above) before setting up SSO: the connection always covers it.</p>
      ) : loadError ? (
        <ErrorBox error={loadError} title="Could not read the SSO connection" onRetry={() => setRound((r) => r + 1)} />
      ) : connection === undefined ? (
        <Loading what="the SSO connection" />
      ) : (
        <form onSubmit={submit} noValidate aria-labelledby="sso-heading">
          <p>
            {connection
              ? `Users at ${[account.email_domain, ...connection.additional_domains].join(', ')} sign in through this SAML connection.`
              : `No SSO connection yet. It will cover ${account.email_domain} and any additional domains.`}
          </p>
          <Field label="SAML metadata URL" name="saml_metadata_url" type="url" value={url} onChange={setUrl} errors={byField.saml_metadata_url} hint="https://… from your identity provider" />
          <Field label="Additional domains" name="additional_domains" value={domains} onChange={setDomains} errors={byField.additional_domains} hint="Optional; separate several with commas" />
          <ErrorBox error={error && rest.length ? new ApiError(error.status, rest) : null} title="The SSO connection was not saved" />
          {notice ? <Notice>{notice}</Notice> : null}
          <div className="actions">
            <Button type="submit" disabled={busy}>
              {connection ? 'Update SSO connection' : 'Create SSO connection'}
            </Button>
            {connection ? (
              <button type="button" className="danger" onClick={() => setConfirming(true)}>
                Remove SSO connection
              </button>
            ) : null}
          </div>
        </form>
      )}
      <ConfirmDialog open={confirming} title={`Remove the SSO connection of “${account.name}”?`} confirmLabel="Remove SSO connection" busy={busy} onConfirm={remove} onCancel={() => setConfirming(false)}>
        <p>Users at {account.email_domain} will no longer sign in through SAML.</p>
      </ConfirmDialog>
    </section>
  );
}
