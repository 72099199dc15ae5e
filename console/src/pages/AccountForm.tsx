import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { api, ApiError, listAll, type BillingRule, type Integration, type ManagedAccount } from '../api.ts';
import { asApiError, Button, ConfirmDialog, ErrorBox, Field, Loading, Notice, PageTitle, splitErrors, useFocusFirstError } from '../ui.tsx';
import { InvoicingSection } from './InvoicingSection.tsx';
import { RuleOrder } from './RuleOrder.tsx';
import { SsoSection } from './SsoSection.tsx';

const FIELDS = ['name', 'contact_email', 'email_domain', 'access_credential_tokens', 'billing_rule_tokens'];
const LABELS: Record<string, string> = {
  name: 'name',
  contact_email: 'contact email',
  email_domain: 'email domain',
  access_credential_tokens: 'delegated integrations',
  billing_rule_tokens: 'billing rules',
};

interface Draft {
  name: string;
  contact_email: string;
  email_domain: string;
  integrations: string[];
  rules: string[];
}

/** Create (`/accounts/new`) or edit (`/accounts/:token`) a managed account; errors come from the API, field by field. */
export function AccountForm() {
  const { token } = useParams();
  const creating = token === undefined;
  const navigate = useNavigate();
  const flash = (useLocation().state as { flash?: string } | null)?.flash;
  const [account, setAccount] = useState<ManagedAccount | null>(null);
  const [rules, setRules] = useState<BillingRule[] | null>(null);
  const [integrations, setIntegrations] = useState<Integration[] | null>(null);
  const [draft, setDraft] = useState<Draft>({ name: '', contact_email: '', email_domain: '', integrations: [], rules: [] });
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [saveError, setSaveError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [deleteError, setDeleteError] = useState<ApiError | null>(null);
  const [round, setRound] = useState(0);
  const form = useRef<HTMLFormElement>(null);
  useFocusFirstError(form, saveError);

  useEffect(() => {
    let live = true;
    setLoadError(null);
    Promise.all([
      listAll<BillingRule>('/v2/billing_rules?limit=1000', 'billing_rules'),
      listAll<Integration>('/v2/integrations?limit=1000', 'integrations'),
      creating ? Promise.resolve(null) : api<ManagedAccount>('GET', `/v2/managed_accounts/${encodeURIComponent(token)}`),
    ]).then(
      ([allRules, allIntegrations, loaded]) => {
        if (!live) return;
        setRules(allRules);
        setIntegrations(allIntegrations);
        setAccount(loaded);
        setDraft(
          loaded
            ? { name: loaded.name, contact_email: loaded.contact_email, email_domain: loaded.email_domain ?? '', integrations: loaded.access_credential_tokens, rules: loaded.billing_rule_tokens }
            : // Apply-to-all rules join every new account anyway (at the end of their stage): show them so they can be placed.
              { name: '', contact_email: '', email_domain: '', integrations: [], rules: orderByStage(allRules.filter((r) => r.apply_to_all), allRules) },
        );
      },
      (e) => live && setLoadError(asApiError(e)),
    );
    return () => {
      live = false;
    };
  }, [token, creating, round]);

  const { byField, rest } = splitErrors(saveError?.messages ?? [], FIELDS);
  const set = (patch: Partial<Draft>) => {
    setDraft((d) => ({ ...d, ...patch }));
    setSaved(null);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setSaveError(null);
    setSaved(null);
    try {
      if (creating) {
        const created = await api<ManagedAccount>('POST', '/v2/managed_accounts', {
          name: draft.name,
          contact_email: draft.contact_email,
          email_domain: draft.email_domain.trim() === '' ? null : draft.email_domain,
          access_credential_tokens: draft.integrations,
          billing_rule_tokens: draft.rules,
        });
        navigate(`/accounts/${created.token}`, { state: { flash: `Managed account “${created.name}” created.` } });
        return;
      }
      if (!account) return;
      const changes: Record<string, unknown> = {};
      if (draft.name !== account.name) changes.name = draft.name;
      if (draft.contact_email !== account.contact_email) changes.contact_email = draft.contact_email;
      if (draft.email_domain !== (account.email_domain ?? '')) changes.email_domain = draft.email_domain;
      if (!same(draft.integrations, account.access_credential_tokens)) changes.access_credential_tokens = draft.integrations;
      if (!same(draft.rules, account.billing_rule_tokens)) changes.billing_rule_tokens = draft.rules;
      if (Object.keys(changes).length === 0) {
        setSaved('Nothing to save: no field was changed.');
        return;
      }
      const updated = await api<ManagedAccount>('PUT', `/v2/managed_accounts/${account.token}`, changes);
      setAccount(updated);
      setDraft((d) => ({ ...d, name: updated.name, contact_email: updated.contact_email, email_domain: updated.email_domain ?? '', integrations: updated.access_credential_tokens, rules: updated.billing_rule_tokens }));
      setSaved(`Saved the ${Object.keys(changes).map((k) => LABELS[k] ?? k).join(', ')}.`);
    } catch (e) {
      setSaveError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!account) return;
    setBusy(true);
    setDeleteError(null);
    try {
      await api('DELETE', `/v2/managed_accounts/${account.token}`);
      navigate('/accounts', { state: { flash: `Managed account “${account.name}” deleted.` } });
    } catch (e) {
      setDeleteError(asApiError(e));
      setConfirming(false);
      setBusy(false);
    }
  };

  const heading = creating ? 'Create a managed account' : account ? `Edit ${account.name}` : 'Managed account';
  if (loadError) {
    return (
      <>
        <PageTitle title={heading}>{heading}</PageTitle>
        <ErrorBox error={loadError} title={loadError.status === 404 ? 'This managed account does not exist' : 'Could not load the form'} onRetry={() => setRound((r) => r + 1)} />
        <p>
          <Link to="/accounts">Back to managed accounts</Link>
        </p>
      </>
    );
  }
  if (!rules || !integrations || (!creating && !account)) {
    return (
      <>
        <PageTitle title={heading}>{heading}</PageTitle>
        <Loading what="the managed account, your billing rules and integrations" />
      </>
    );
  }

  return (
    <>
      <p className="breadcrumb">
        <Link to="/accounts">Managed accounts</Link>
      </p>
      <PageTitle title={heading}>{heading}</PageTitle>
      {flash && !saved && !saveError ? <Notice>{flash}</Notice> : null}
      {account ? (
        <p className="meta">
          Token <code>{account.token}</code>
        </p>
      ) : null}
      <form ref={form} onSubmit={submit} noValidate aria-label="Managed account">
        <Field label="Name" name="name" value={draft.name} onChange={(name) => set({ name })} errors={byField.name} required />
        <Field
          label="Contact email"
          name="contact_email"
          type="email"
          value={draft.contact_email}
          onChange={(contact_email) => set({ contact_email })}
          errors={byField.contact_email}
          required
          inputMode="email"
        />
        <Field
          label="Email domain (for SSO)"
          name="email_domain"
          value={draft.email_domain}
          onChange={(email_domain) => set({ email_domain })}
          errors={byField.email_domain}
          hint={
            account?.email_domain
              ? 'It can be changed, not removed (the API has no way to clear it). An SSO connection always covers it.'
              : 'Optional, e.g. acme.example.com. Needed before an SSO connection can be set up; once set it can be changed, not removed.'
          }
        />
        <fieldset className="checklist">
          <legend>Delegated integrations</legend>
          {byField.access_credential_tokens?.length ? (
            <ul className="field-error" data-field="access_credential_tokens">
              {byField.access_credential_tokens.map((m, i) => (
                <li key={i}>{m}</li>
              ))}
            </ul>
          ) : null}
          {integrations.length === 0 ? <p className="hint">You have no integrations to delegate.</p> : null}
          {integrations.map((i) => (
            <label key={i.token} className="check">
              <input
                type="checkbox"
                checked={draft.integrations.includes(i.token)}
                onChange={(e) => set({ integrations: e.target.checked ? [...draft.integrations, i.token] : draft.integrations.filter((t) => t !== i.token) })}
              />
              {i.provider} {i.account_identifier ?? ''} <code>{i.token}</code>
            </label>
          ))}
        </fieldset>
        <RuleOrder rules={rules} order={draft.rules} onChange={(order) => set({ rules: order })} errors={byField.billing_rule_tokens} creating={creating} />
        <ErrorBox error={saveError && rest.length ? new ApiError(saveError.status, rest) : null} title={creating ? 'The managed account was not created' : 'The changes were not saved'} />
        {saved ? <Notice>{saved}</Notice> : null}
        <div className="actions">
          <Button type="submit" className="primary" disabled={busy}>
            {busy ? 'Saving…' : creating ? 'Create managed account' : 'Save changes'}
          </Button>
          <Link to="/accounts">Cancel</Link>
        </div>
      </form>

      {account ? (
        <>
          {'msp_billing_profile_token' in account ? <InvoicingSection account={account} onSaved={setAccount} /> : null}
          <SsoSection account={account} />
          <section className="danger-zone" aria-labelledby="delete-heading">
            <h2 id="delete-heading">Delete this managed account</h2>
            <p>Its email domain, SSO connection, delegations, rule assignments and invoicing data go with it.</p>
            <ErrorBox error={deleteError} title="The managed account was not deleted" />
            <button type="button" className="danger" onClick={() => setConfirming(true)}>
              Delete managed account
            </button>
          </section>
          <ConfirmDialog
            open={confirming}
            title={`Delete “${account.name}”?`}
            confirmLabel={`Delete ${account.name}`}
            busy={busy}
            onConfirm={remove}
            onCancel={() => setConfirming(false)}
          >
            <p>
              The managed account <strong>{account.name}</strong> ({account.contact_email}) will be deleted. This cannot be undone.
            </p>
          </ConfirmDialog>
        </>
      ) : null}
    </>
  );
}

function same(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Tokens of `picked` in execution order: by stage, then in rule creation order (as the API would add them). */
function orderByStage(picked: BillingRule[], all: BillingRule[]): string[] {
  const index = new Map(all.map((r, i) => [r.token, i]));
  return [...picked].sort((a, b) => a.execution_stage - b.execution_stage || (index.get(a.token) ?? 0) - (index.get(b.token) ?? 0)).map((r) => r.token);
}
