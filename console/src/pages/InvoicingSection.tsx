import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, listAll, type BillingInformation, type BillingProfile, type ManagedAccount } from '../api.ts';
import { asApiError, ErrorBox, Field, Notice, splitErrors } from '../ui.tsx';

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

/** MSP invoicing data of one managed account: only shown when the API includes it (the MSP has invoicing on). */
export function InvoicingSection({ account, onSaved }: { account: ManagedAccount; onSaved: (account: ManagedAccount) => void }) {
  const info = account.billing_information_attributes;
  const [profiles, setProfiles] = useState<BillingProfile[] | null>(null);
  const [profilesError, setProfilesError] = useState<ApiError | null>(null);
  const [profile, setProfile] = useState(account.msp_billing_profile_token ?? '');
  const [terms, setTerms] = useState(String(account.payment_terms_days ?? ''));
  const [include, setInclude] = useState(account.include_managed_account_integrations ?? false);
  const [address, setAddress] = useState<Record<string, string>>(() => Object.fromEntries(ADDRESS.map(([k]) => [k, String(info?.[k] ?? '')])));
  const [emails, setEmails] = useState((info?.billing_email ?? []).join(', '));
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    listAll<BillingProfile>('/v2/billing_profiles?limit=1000', 'billing_profiles').then(setProfiles, (e) => setProfilesError(asApiError(e)));
  }, []);

  const { byField, rest } = splitErrors(error?.messages ?? [], FIELDS);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const termsValue = terms.trim() === '' ? null : Number(terms);
      if (termsValue !== null && !Number.isInteger(termsValue)) throw new ApiError(400, ['payment_terms_days must be a whole number of days']);
      const updated = await api<ManagedAccount>('PUT', `/v2/managed_accounts/${account.token}`, {
        msp_billing_profile_token: profile,
        payment_terms_days: termsValue,
        include_managed_account_integrations: include,
        [BI]: {
          ...Object.fromEntries(ADDRESS.map(([k]) => [k, address[k]?.trim() ? address[k] : null])),
          billing_email: emails.split(/[,\s]+/).filter(Boolean),
        },
      });
      onSaved(updated);
      setSaved(true);
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="invoicing-heading" className="subsection">
      <h2 id="invoicing-heading">MSP invoicing</h2>
      <form onSubmit={submit} noValidate aria-labelledby="invoicing-heading">
        <div className="field">
          <label htmlFor="billing-profile">Billing profile</label>
          <select id="billing-profile" value={profile} onChange={(e) => setProfile(e.target.value)} aria-describedby={byField.msp_billing_profile_token ? 'billing-profile-error' : undefined}>
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
        <Field label="Payment terms (days)" name="payment_terms_days" value={terms} onChange={setTerms} errors={byField.payment_terms_days} inputMode="numeric" hint="0–365 days from invoice date to due date" />
        <label className="check">
          <input type="checkbox" checked={include} onChange={(e) => setInclude(e.target.checked)} />
          Include the managed account&apos;s own integrations in invoice costs
        </label>
        <fieldset>
          <legend>Billing information</legend>
          {ADDRESS.map(([key, label]) => (
            <Field key={key} label={label} name={`${BI}.${key}`} value={address[key] ?? ''} onChange={(v) => setAddress((a) => ({ ...a, [key]: v }))} errors={byField[`${BI}.${key}`]} />
          ))}
          <Field label="Billing emails" name={`${BI}.billing_email`} value={emails} onChange={setEmails} errors={byField[`${BI}.billing_email`]} hint="Separate several with commas" />
        </fieldset>
        <ErrorBox error={error && rest.length ? new ApiError(error.status, rest) : null} title="The invoicing data was not saved" />
        {saved ? <Notice>Invoicing data saved.</Notice> : null}
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save invoicing'}
        </button>
      </form>
    </section>
  );
}
