import { useEffect, useState } from 'react';
import { Navigate, NavLink, Route, Routes, useLocation, useNavigate } from 'react-router';
import { api, session, setUnauthorizedHandler, type Me } from './api.ts';
import { AccountForm } from './pages/AccountForm.tsx';
import { Accounts } from './pages/Accounts.tsx';
import { AuditLogs } from './pages/AuditLogs.tsx';
import { BillingProfileDetail, BillingProfiles } from './pages/BillingProfiles.tsx';
import { BillingRuleForm, BillingRules } from './pages/BillingRules.tsx';
import { IntegrationDetail, Integrations } from './pages/Integrations.tsx';
import { SignIn } from './pages/SignIn.tsx';

export function App() {
  const [signedIn, setSignedIn] = useState(() => session.token() !== null);
  const [me, setMe] = useState<Me | null>(null);
  const [reason, setReason] = useState<string | null>(null);
  const navigate = useNavigate();
  const location = useLocation();

  useEffect(() => {
    setUnauthorizedHandler((message) => {
      session.signOut();
      setSignedIn(false);
      setMe(null);
      setReason(`You were signed out: ${message}`);
    });
  }, []);

  useEffect(() => {
    if (!signedIn) return;
    api<Me>('GET', '/v2/me').then(setMe, () => setMe(null));
  }, [signedIn]);

  if (!signedIn) {
    return (
      <SignIn
        reason={reason}
        onSignedIn={() => {
          setReason(null);
          setSignedIn(true);
          // A deep link opened while signed out stays where it was; the sign-in page itself leads to the accounts.
          if (location.pathname === '/sign-in') navigate('/accounts', { replace: true });
        }}
      />
    );
  }

  const signOut = () => {
    session.signOut();
    setMe(null);
    setSignedIn(false);
    setReason('You signed out. The token was removed from this browser tab.');
    navigate('/sign-in', { replace: true });
  };

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <div className="brand">Steward</div>
        <nav aria-label="Main">
          <NavLink to="/accounts">Managed accounts</NavLink>
          <NavLink to="/billing-rules">Billing rules</NavLink>
          <NavLink to="/integrations">Integrations</NavLink>
          <NavLink to="/billing-profiles">Billing profiles</NavLink>
          <NavLink to="/audit-logs">Audit log</NavLink>
        </nav>
        <div className="who">
          {me ? <span className="token-name">{me.bearer_token.description ?? 'API token'} ({me.bearer_token.scope.join(', ')})</span> : null}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <Routes>
          <Route path="/" element={<Navigate to="/accounts" replace />} />
          <Route path="/sign-in" element={<Navigate to="/accounts" replace />} />
          <Route path="/accounts" element={<Accounts />} />
          <Route path="/accounts/new" element={<AccountForm />} />
          <Route path="/accounts/:token" element={<AccountForm />} />
          <Route path="/billing-rules" element={<BillingRules />} />
          <Route path="/billing-rules/new" element={<BillingRuleForm />} />
          <Route path="/billing-rules/:token" element={<BillingRuleForm />} />
          <Route path="/integrations" element={<Integrations />} />
          <Route path="/integrations/:token" element={<IntegrationDetail />} />
          <Route path="/billing-profiles" element={<BillingProfiles />} />
          <Route path="/billing-profiles/:token" element={<BillingProfileDetail />} />
          <Route path="/audit-logs" element={<AuditLogs />} />
          <Route
            path="*"
            element={
              <>
                <h1>Page not found</h1>
                <p>
                  There is no console page at <code>{location.pathname}</code>. <NavLink to="/accounts">Go to managed accounts</NavLink>.
                </p>
              </>
            }
          />
        </Routes>
      </main>
    </>
  );
}
