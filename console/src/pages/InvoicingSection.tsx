import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError, listAll, type BillingInformation, type BillingProfile, type ManagedAccount } from '../api.ts';
import { asApiError, Button, ErrorBox, Field, Notice, splitErrors, useFocusFirstError } from '../ui.tsx';

const BI = 'billing_information_attributes';
const ADDRESS: Array<[keyof BillingInformation, string]> = [
  ['company_name', 'Company name'],
  ['address_line_1', 'Address line 1'],
  ['address_line_2', 'Address line 2'],
  ['city', 'City'],
  ['state', 'State or region'],
  ['postal_code', 'Postal code'],
  ['country_code', 'Country code (ISO 3166-1, e.g. US)'],
];
const FIELDS = ['msp_billing_profile_token', 'payment_terms_days', 'include_managed_account_integrations', BI, ...ADDRESS.map(([k]) => `${BI}.${k}`), `${BI}.billing_email`];

interface Draft {
  profile: string;
  terms: string;
  include: boolean;
  address: Record<string, string>;
  emails: string;
}

function draftOf(account: ManagedAccount): Draft {
  const info = account.billing_information_attributes;
  return {
    profile: account.msp_billing_profile_token ?? '',
    terms: account.payment_terms_days === null || account.payment_terms_days === undefined ? '' : String(account.payment_terms_days),
    include: account.include_managed_account_integrations ?? false,
    address: Object.fromEntries(ADDRESS.map(([k]) => [k, String(info?.[k] ?? '')])),
    emails: (info?.billing_email ?? []).join(', '),
  };
}

const emailList = (text: string) => text.split(/[,\s]+/).filter(Boolean);

/**
 * MSP invoicing data of one managed account: only shown when the API includes it (the MSP has invoicing on). Saved
 * with its own button, sending only what was changed here (so another tab's changes to other fields survive); an
 * emptied text field is sent as "" (which clears it: null would keep the stored value).
 */
export function InvoicingSection({ account, onSaved }: { account: ManagedAccount; onSaved: (account: ManagedAccount) => void }) {
  const [saved, setSaved] = useState<Draft>(() => draftOf(account));
  const [draft, setDraft] = useState<Draft>(saved);
  const [profiles, setProfiles] = useState<BillingProfile[] | null>(null);
  const [profilesError, setProfilesError] = useState<ApiError | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  useFocusFirstError(form, error);

  useEffect(() => {
    listAll<BillingProfile>('/v2/billing_profiles?limit=1000', 'billing_profiles').then(setProfiles, (e) => setProfilesError(asApiError(e)));
  }, []);

  const set = (patch: Partial<Draft>) => {
    setDraft((d) => ({ ...d, ...patch }));
    setNotice(null);
  };
  const changes: Record<string, unknown> = {};
  if (draft.profile !== saved.profile) changes.msp_billing_profile_token = draft.profile;
  if (draft.terms !== saved.terms) changes.payment_terms_days = draft.terms.trim() === '' ? null : draft.terms.trim();
  if (draft.include !== saved.include) changes.include_managed_account_integrations = draft.include;
  const info: Record<string, unknown> = {};
  for (const [k] of ADDRESS) if ((draft.address[k] ?? '') !== (saved.address[k] ?? '')) info[k] = draft.address[k] ?? '';
  if (emailList(draft.emails).join() !== emailList(saved.emails).join()) info.billing_email = emailList(draft.emails);
  if (Object.keys(info).length > 0) changes[BI] = info;
  const dirty = Object.keys(changes).length > 0;

  const { byField, rest } = splitErrors(error?.messages ?? [], FIELDS);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    setError(null);
    setNotice(null);
    if (!dirty) {
      setNotice('Nothing to save: no invoicing field was changed.');
      return;
    }
    const terms = changes.payment_terms_days;
    if (typeof terms === 'string') {
      if (!/^\d+$/.test(terms)) {
        setError(new ApiError(400, ['payment_terms_days must be a whole number of days written in digits, from 0 to 365']));
        return;
      }
      changes.payment_terms_days = Number(terms);
    }
    setBusy(true);
    try {
      const updated = await api<ManagedAccount>('PUT', `/v2/managed_accounts/${account.token}`, changes);
      onSaved(updated);
      const next = draftOf(updated);
      setSaved(next);
      setDraft(next);
      setNotice('Invoicing data saved.');
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="invoicing-heading" className="subsection">
      <h2 id="invoicing-heading">MSP invoicing</h2>
      <p className="hint">Saved with its own button below, separately from the account&apos;s name, email, integrations and rules.</p>
      <form ref={form} onSubmit={submit} noValidate aria-labelledby="invoicing-heading">
        <div className="field">
          <label htmlFor="billing-profile">Billing profile</label>
          <select id="billing-profile" value={draft.profile} onChange={(e) => set({ profile: e.target.value })} aria-invalid={byField.msp_billing_profile_token ? true : undefined} aria-describedby={byField.msp_billing_profile_token ? 'billing-profile-error' : undefined}>
            <option value="">None</option>
            {(profiles ?? []).map((p) => (
              <option key={p.token} value={p.token}>
                {p.nickname}
              </option>
            ))}
          </select>
          {profilesError ? <p className="hint">Billing profiles could not be listed: {profilesError.message}</p> : null}
          {byField.msp_billing_profile_token ? (
            <ul className="field-error" id="billing-profile-error" data-field="msp_billing_profile_token">
              {byField.msp_billing_profile_token.map((m, i) => (
                <li key={i}>{m}</li>
              ))}
            </ul>
          ) : null}
        </div>
        <Field label="Payment terms (days)" name="payment_terms_days" value={draft.terms} onChange={(terms) => set({ terms })} errors={byField.payment_terms_days} inputMode="numeric" hint="0–365 days from invoice date to due date" />
        <label className="check">
          <input type="checkbox" checked={draft.include} onChange={(e) => set({ include: e.target.checked })} />
          Include the managed account&apos;s own integrations in invoice costs
        </label>
        <fieldset>
          <legend>Billing information</legend>
          {ADDRESS.map(([key, label]) => (
            <Field key={key} label={label} name={`${BI}.${key}`} value={draft.address[key] ?? ''} onChange={(v) => set({ address: { ...draft.address, [key]: v } })} errors={byField[`${BI}.${key}`]} />
          ))}
          <Field label="Billing emails" name={`${BI}.billing_email`} value={draft.emails} onChange={(emails) => set({ emails })} errors={byField[`${BI}.billing_email`]} hint="Separate several with commas" />
        </fieldset>
        <ErrorBox error={error && rest.length ? new ApiError(error.status, rest) : null} title="The invoicing data was not saved" />
        {notice ? <Notice>{notice}</Notice> : null}
        <div className="actions">
          <Button type="submit" disabled={busy}>
            {busy ? 'Saving…' : 'Save invoicing'}
          </Button>
          {dirty ? <span className="unsaved">Unsaved invoicing changes</span> : null}
        </div>
      </form>
    </section>
  );
}
