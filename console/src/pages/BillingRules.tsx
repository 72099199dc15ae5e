import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { api, ApiError, listAll, type BillingRule } from '../api.ts';
import { asApiError, Button, ConfirmDialog, ErrorBox, Field, formatTime, Loading, Notice, PageTitle, PLAIN_DECIMAL, splitErrors, TableRegion, useFocusFirstError, useLoad } from '../ui.tsx';

type RuleType = BillingRule['type'];
type Key = 'charge_type' | 'percentage' | 'service' | 'category' | 'sub_category' | 'amount' | 'sql_query' | 'start_date' | 'end_date';

const TYPES: Array<{ type: RuleType; label: string; help: string }> = [
  { type: 'exclusion', label: 'Exclusion', help: 'Leaves costs of one charge type out.' },
  { type: 'adjustment', label: 'Adjustment', help: 'Shows a percentage of the cost, optionally for one service or category.' },
  { type: 'charge', label: 'Charge', help: 'Adds an amount, e.g. a monthly fee.' },
  { type: 'credit', label: 'Credit', help: 'Takes an amount off.' },
  { type: 'custom', label: 'Custom SQL', help: 'One UPDATE or DELETE on aws or costs, or an INSERT INTO costs.' },
];

type FieldSpec = { key: Key; label: string; required?: boolean; hint?: string; numeric?: boolean; multiline?: boolean };

/** Charges and credits take the same fields. */
const AMOUNT_FIELDS: FieldSpec[] = [
  { key: 'amount', label: 'Amount', required: true, numeric: true },
  { key: 'service', label: 'Service', required: true },
  { key: 'category', label: 'Category' },
  { key: 'sub_category', label: 'Subcategory' },
  { key: 'start_date', label: 'Start date', required: true, hint: 'YYYY-MM-DD' },
  { key: 'end_date', label: 'End date', hint: 'Optional, YYYY-MM-DD' },
];

/** Only the fields a rule of each type keeps (the API ignores the others), with the required ones marked. */
const FIELDS_OF: Record<RuleType, FieldSpec[]> = {
  exclusion: [{ key: 'charge_type', label: 'Charge type', required: true, hint: 'e.g. RIFee, Tax, Credit' }],
  adjustment: [
    { key: 'percentage', label: 'Percentage of cost shown', required: true, numeric: true, hint: 'e.g. 95' },
    { key: 'service', label: 'Service', hint: 'Optional, e.g. Amazon CloudFront' },
    { key: 'category', label: 'Category', hint: 'Optional' },
  ],
  charge: AMOUNT_FIELDS,
  credit: AMOUNT_FIELDS,
  custom: [
    { key: 'sql_query', label: 'SQL statement', required: true, multiline: true, hint: 'e.g. UPDATE costs SET amount = amount * 0.95' },
    { key: 'start_date', label: 'Start date', hint: 'Optional, YYYY-MM-DD' },
    { key: 'end_date', label: 'End date', hint: 'Optional, YYYY-MM-DD' },
  ],
};

export function BillingRules() {
  const flash = (useLocation().state as { flash?: string } | null)?.flash;
  const { data, error, loading, reload } = useLoad(() => listAll<BillingRule>('/v2/billing_rules?limit=1000', 'billing_rules'), []);
  return (
    <>
      <div className="page-head">
        <PageTitle title="Billing rules">Billing rules</PageTitle>
        <Link className="button primary" to="/billing-rules/new">
          Create billing rule
        </Link>
      </div>
      {flash ? <Notice>{flash}</Notice> : null}
      <ErrorBox error={error} title="Could not load billing rules" onRetry={reload} />
      {loading ? <Loading what="billing rules" /> : null}
      {data && data.length === 0 ? (
        <div className="empty">
          <h2>No billing rules yet</h2>
          <p>
            Billing rules change what your customers see: exclusions, adjustments, charges, credits and custom SQL.{' '}
            <Link to="/billing-rules/new">Create the first one</Link>.
          </p>
        </div>
      ) : null}
      {data && data.length > 0 ? (
        <TableRegion label="Billing rules">
          <table>
            <thead>
              <tr>
                <th scope="col">Title</th>
                <th scope="col">Type</th>
                <th scope="col">Execution stage</th>
                <th scope="col">Applies to all</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {data.map((r) => (
                <tr key={r.token}>
                  <td>
                    <Link to={`/billing-rules/${r.token}`}>{r.title}</Link>
                  </td>
                  <td>{r.type}</td>
                  <td>
                    {r.execution_stage}. {r.execution_stage_name}
                  </td>
                  <td>{r.apply_to_all ? 'Yes' : 'No'}</td>
                  <td>{formatTime(r.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      ) : null}
    </>
  );
}

type Draft = Record<Key, string> & { title: string; type: RuleType; apply_to_all: boolean };
const EMPTY: Draft = { title: '', type: 'adjustment', apply_to_all: false, charge_type: '', percentage: '', service: '', category: '', sub_category: '', amount: '', sql_query: '', start_date: '', end_date: '' };

function draftOf(rule: BillingRule): Draft {
  return { ...EMPTY, ...Object.fromEntries(Object.entries(rule).map(([k, v]) => [k, v ?? ''])), type: rule.type, apply_to_all: rule.apply_to_all } as Draft;
}

export function BillingRuleForm() {
  const { token } = useParams();
  const creating = token === undefined;
  const navigate = useNavigate();
  const [rule, setRule] = useState<BillingRule | null>(null);
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const flash = (useLocation().state as { flash?: string } | null)?.flash;
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);

  useEffect(() => {
    if (creating) return;
    api<BillingRule>('GET', `/v2/billing_rules/${encodeURIComponent(token)}`).then(
      (r) => {
        setRule(r);
        setDraft(draftOf(r));
      },
      (e) => setLoadError(asApiError(e)),
    );
  }, [token, creating]);

  const fields = FIELDS_OF[draft.type];
  const { byField, rest } = splitErrors(error?.messages ?? [], ['title', 'type', 'apply_to_all', 'start_period', ...Object.keys(EMPTY)]);
  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));
  const form = useRef<HTMLFormElement>(null);
  useFocusFirstError(form, error);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      // A new rule gets every filled field; an edit only the changed ones, an emptied field as "" (which clears it;
      // absent or null would keep the stored value), so the audit log shows exactly what changed.
      const before = rule ? draftOf(rule) : null;
      const body: Record<string, unknown> = {};
      if (creating) body.type = draft.type;
      if (!before || draft.title !== before.title) body.title = draft.title;
      if (!before || draft.apply_to_all !== before.apply_to_all) body.apply_to_all = draft.apply_to_all;
      for (const f of fields) {
        const value = f.multiline ? draft[f.key] : draft[f.key].trim();
        if (before ? draft[f.key] === before[f.key] : value.trim() === '') continue;
        if (f.numeric && value !== '') {
          if (!PLAIN_DECIMAL.test(value)) throw new ApiError(400, [`${f.key} must be a plain decimal number such as ${f.key === 'percentage' ? '95 or 87.5' : '300 or 25.50'}`]);
          // JSON carries numbers as doubles: more than 15 significant digits would arrive rounded, not refused.
          if (value.replace(/[-.]/g, '').replace(/^0+/, '').length > 15) throw new ApiError(400, [`${f.key} has more than 15 significant digits, more than can be sent exactly`]);
          body[f.key] = Number(value);
        } else body[f.key] = value;
      }
      const saved = creating ? await api<BillingRule>('POST', '/v2/billing_rules', body) : await api<BillingRule>('PUT', `/v2/billing_rules/${rule?.token}`, body);
      if (creating) {
        navigate(`/billing-rules/${saved.token}`, { state: { flash: `Billing rule “${saved.title}” created.` } });
        return;
      }
      setRule(saved);
      setDraft(draftOf(saved));
      setNotice('Billing rule saved.');
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!rule) return;
    setBusy(true);
    try {
      await api('DELETE', `/v2/billing_rules/${rule.token}`);
      navigate('/billing-rules', { state: { flash: `Billing rule “${rule.title}” deleted.` } });
    } catch (e) {
      setError(asApiError(e));
      setConfirming(false);
      setBusy(false);
    }
  };

  const heading = creating ? 'Create a billing rule' : rule ? `Edit ${rule.title}` : 'Billing rule';
  if (loadError) {
    return (
      <>
        <PageTitle title={heading}>{heading}</PageTitle>
        <ErrorBox error={loadError} title="Could not load the billing rule" />
        <Link to="/billing-rules">Back to billing rules</Link>
      </>
    );
  }
  if (!creating && !rule) {
    return (
      <>
        <PageTitle title={heading}>{heading}</PageTitle>
        <Loading what="the billing rule" />
      </>
    );
  }
  return (
    <>
      <p className="breadcrumb">
        <Link to="/billing-rules">Billing rules</Link>
      </p>
      <PageTitle title={heading}>{heading}</PageTitle>
      {rule ? (
        <p className="meta">
          Token <code>{rule.token}</code> · {rule.type} · runs in stage {rule.execution_stage} ({rule.execution_stage_name})
        </p>
      ) : null}
      <form ref={form} onSubmit={submit} noValidate aria-label="Billing rule">
        {creating ? (
          <fieldset className="types">
            <legend>Type</legend>
            {TYPES.map((t) => (
              <label key={t.type} className="check">
                <input type="radio" name="type" value={t.type} checked={draft.type === t.type} onChange={() => set({ type: t.type })} />
                <span>
                  <strong>{t.label}</strong> — {t.help}
                </span>
              </label>
            ))}
            {byField.type ? <ul className="field-error" data-field="type">{byField.type.map((m, i) => <li key={i}>{m}</li>)}</ul> : null}
          </fieldset>
        ) : null}
        <Field label="Title" name="title" value={draft.title} onChange={(title) => set({ title })} errors={byField.title} required />
        {fields.map((f) => (
          <Field
            key={`${draft.type}-${f.key}`}
            label={f.label}
            name={f.key}
            value={draft[f.key]}
            onChange={(v) => set({ [f.key]: v } as Partial<Draft>)}
            errors={[...(byField[f.key] ?? []), ...(f.key === 'start_date' ? (byField.start_period ?? []) : [])]}
            required={f.required}
            hint={f.hint}
            multiline={f.multiline}
            inputMode={f.numeric ? 'decimal' : undefined}
          />
        ))}
        <label className="check">
          <input type="checkbox" checked={draft.apply_to_all} onChange={(e) => set({ apply_to_all: e.target.checked })} />
          Apply to all current and future managed accounts
        </label>
        <ErrorBox error={error && rest.length ? new ApiError(error.status, rest) : null} title={creating ? 'The billing rule was not created' : 'The billing rule was not saved'} />
        {notice ? <Notice>{notice}</Notice> : flash && !error ? <Notice>{flash}</Notice> : null}
        <div className="actions">
          <Button type="submit" className="primary" disabled={busy}>
            {creating ? 'Create billing rule' : 'Save billing rule'}
          </Button>
          {rule ? (
            <button type="button" className="danger" onClick={() => setConfirming(true)}>
              Delete billing rule
            </button>
          ) : null}
        </div>
      </form>
      {rule ? (
        <ConfirmDialog open={confirming} title={`Delete “${rule.title}”?`} confirmLabel={`Delete ${rule.title}`} busy={busy} onConfirm={remove} onCancel={() => setConfirming(false)}>
          <p>The rule is removed from every managed account that has it. This cannot be undone.</p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}
