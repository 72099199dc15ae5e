import { useCallback, useEffect, useId, useRef, useState, type ButtonHTMLAttributes, type ReactNode, type RefObject } from 'react';
import { useLocation } from 'react-router';
import { ApiError } from './api.ts';

/** One request's state: loading, its data, or its error; `reload` runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data?: T; error?: ApiError; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: undefined }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error: asApiError(error), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { ...state, reload };
}

export function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, [error instanceof Error ? error.message : String(error)]);
}

/**
 * The page's heading: names the document, and takes focus when it appears or after a navigation so screen readers
 * announce the page. A title that changes in place (an account renamed by its own form) does not take focus: the
 * keyboard user stays on the button they pressed.
 */
export function PageTitle({ children, title }: { children: ReactNode; title: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  const { key } = useLocation();
  useEffect(() => {
    document.title = `${title} · Steward console`;
  }, [title]);
  useEffect(() => {
    ref.current?.focus();
  }, [key]);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      Loading {what}…
    </p>
  );
}

export function ErrorBox({ error, title = 'The request failed', onRetry }: { error?: ApiError | null; title?: string; onRetry?: () => void }) {
  if (!error || error.messages.length === 0) return null;
  return (
    <div className="error-box" role="alert">
      <strong>{title}</strong>
      {error.status ? <span className="status"> ({error.status})</span> : null}
      <ul>
        {error.messages.map((m, i) => (
          <li key={i}>{m}</li>
        ))}
      </ul>
      {onRetry ? (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function Notice({ children }: { children: ReactNode }) {
  return (
    <p className="notice" role="status">
      {children}
    </p>
  );
}

/**
 * The API names the field first in each message ("contact_email is not a valid email address", "additional_domains[1]
 * must be …"). Messages are sorted to the field they name, the longest name first (`email_domain` before `email`);
 * the rest are the form's own.
 */
export function splitErrors(messages: string[], fields: string[]): { byField: Record<string, string[]>; rest: string[] } {
  const names = [...fields].sort((a, b) => b.length - a.length);
  const byField: Record<string, string[]> = {};
  const rest: string[] = [];
  for (const message of messages) {
    const field = names.find((name) => message.startsWith(name) && /^[\s[.:]|^$/.test(message.slice(name.length, name.length + 1)));
    if (field) (byField[field] ??= []).push(message);
    else rest.push(message);
  }
  return { byField, rest };
}

/** A labelled input whose errors sit right under it and are tied to it for assistive technology. */
export function Field({
  label,
  name,
  value,
  onChange,
  errors,
  type = 'text',
  hint,
  required,
  multiline,
  autoComplete = 'off',
  inputMode,
}: {
  label: string;
  name: string;
  value: string;
  onChange: (value: string) => void;
  errors?: string[];
  type?: string;
  hint?: string;
  required?: boolean;
  multiline?: boolean;
  autoComplete?: string;
  inputMode?: 'numeric' | 'decimal' | 'email' | 'text';
}) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const described = [hint ? hintId : null, errors?.length ? errorId : null].filter(Boolean).join(' ') || undefined;
  const common = {
    id,
    name,
    value,
    required,
    'aria-invalid': errors?.length ? true : undefined,
    'aria-describedby': described,
    autoComplete,
  } as const;
  return (
    <div className={`field${errors?.length ? ' has-error' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {multiline ? (
        <textarea {...common} rows={4} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input {...common} type={type} inputMode={inputMode} onChange={(e) => onChange(e.target.value)} />
      )}
      {hint ? (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      ) : null}
      {errors?.length ? (
        <ul className="field-error" id={errorId} data-field={name}>
          {errors.map((m, i) => (
            <li key={i}>{m}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/**
 * A button that stays focusable while it cannot be used (`aria-disabled`, clicks and implicit form submission
 * ignored) instead of the native `disabled`, which drops a keyboard user's focus to the page when a button disables
 * itself: "Saving…", the last page, "Add rule" once its choice is used.
 */
export function Button({ disabled, onClick, ...rest }: ButtonHTMLAttributes<HTMLButtonElement>) {
  return (
    <button
      {...rest}
      aria-disabled={disabled ? true : undefined}
      onClick={(event) => {
        if (disabled) event.preventDefault();
        else onClick?.(event);
      }}
    />
  );
}

/** A modal confirmation (the native <dialog>: focus is trapped and Escape cancels). */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  busy,
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onCancel={(e) => (e.preventDefault(), onCancel())}>
      <h2 id={titleId}>{title}</h2>
      <div>{children}</div>
      <div className="actions">
        <button type="button" onClick={onCancel} autoFocus>
          Cancel
        </button>
        <Button type="button" className="danger" onClick={onConfirm} disabled={busy}>
          {busy ? 'Working…' : confirmLabel}
        </Button>
      </div>
    </dialog>
  );
}

/** "Page n of m" between a backward and a forward button; a button with nowhere to go stays focusable but inert. */
export function Pager({
  page,
  pages,
  back,
  forward,
}: {
  page: number;
  pages: number;
  back: { label: string; onClick?: () => void };
  forward: { label: string; onClick?: () => void };
}) {
  return (
    <nav className="pager" aria-label="Pages">
      <Button type="button" onClick={back.onClick} disabled={!back.onClick}>
        {back.label}
      </Button>
      <span>
        Page {page} of {pages}
      </span>
      <Button type="button" onClick={forward.onClick} disabled={!forward.onClick}>
        {forward.label}
      </Button>
    </nav>
  );
}

/** A table that scrolls sideways on narrow screens, reachable by keyboard. */
export function TableRegion({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-region" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

/** A plain decimal as typed (`95`, `0.7`, `-3`): no hex, exponent or spaces, which Number() would quietly accept. */
export const PLAIN_DECIMAL = /^-?\d+(\.\d+)?$/;

/**
 * After a refused save, focus goes to the first field marked invalid (or the form's error box), so keyboard and
 * screen-reader users land on what to fix.
 */
export function useFocusFirstError(form: RefObject<HTMLElement | null>, error: unknown): void {
  useEffect(() => {
    if (!error || !form.current) return;
    const target = form.current.querySelector<HTMLElement>('[aria-invalid="true"], .field-error, .error-box');
    if (!target) return;
    if (!target.matches('input, select, textarea')) target.tabIndex = -1;
    target.focus();
  }, [error, form]);
}

export function formatTime(iso: string): string {
  return iso.replace('T', ' ').replace(/Z$/, ' UTC');
}

/** Every field of a resource as the API returns it; nested values as JSON. */
export function Details({ value }: { value: Record<string, unknown> }) {
  return (
    <dl className="details">
      {Object.entries(value).map(([key, v]) => (
        <div key={key}>
          <dt>{key}</dt>
          <dd>{v === null || v === undefined ? <span className="muted">—</span> : typeof v === 'object' ? <pre>{JSON.stringify(v, null, 2)}</pre> : String(v)}</dd>
        </div>
      ))}
    </dl>
  );
}
