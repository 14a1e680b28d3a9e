//! Console sessions in the ledger: sign-in, the check every user action passes, sign-out.
//! Only a hash of the session secret ([`SessionKey`]) is ever stored.

use patgate_core::session::{SessionKey, SessionRecord};
use patgate_core::time::Timestamp;

use super::audit::{self, AuditAction};
use super::plan::Plan;
use super::protocol::{Account, EndSession, LedgerError, SignIn, SignOut};
use super::schema::{decode, encode, load, session_key, StoredAuditEvent, SESSION_PREFIX};
use super::{Ledger, LedgerPorts};
use crate::store::LedgerStorage;

/// A session's `last_seen_at` is refreshed at most this often (bounded writes; the idle
/// timeout is 30 minutes, so a minute of slack is immaterial).
const SESSION_TOUCH_INTERVAL_SECONDS: u64 = 60;

impl From<SessionRecord> for Account {
    fn from(record: SessionRecord) -> Self {
        Self {
            user_id: record.user_id,
            email: record.email,
        }
    }
}

fn session_event(action: AuditAction, now: Timestamp) -> StoredAuditEvent {
    StoredAuditEvent {
        at: now,
        action,
        token_id: None,
        token_name: None,
        detail: None,
    }
}

impl<P: LedgerPorts> Ledger<'_, P> {
    /// Admits the holder of `session`, planning the refresh of its idle timer. A session that
    /// has ended is removed (its own commit, since the command ends there).
    pub(super) async fn admit(
        &self,
        session: &SessionKey,
        now: Timestamp,
        plan: &mut Plan,
    ) -> Result<Account, LedgerError> {
        let Some(stored) = load::<SessionRecord>(self.storage, session_key(session)).await? else {
            return Err(LedgerError::NotSignedIn);
        };
        let mut record = stored.value;
        if &record.user_id != self.user_id {
            return Err(LedgerError::NotSignedIn);
        }
        if record.check(now).is_err() {
            let mut removal = Plan::default();
            removal.delete(stored.key, stored.raw);
            self.commit(&removal).await?;
            return Err(LedgerError::NotSignedIn);
        }
        if now.seconds_since(record.last_seen_at) >= SESSION_TOUCH_INTERVAL_SECONDS {
            record.last_seen_at = now;
            plan.put(stored.key, encode(&record), Some(stored.raw));
        }
        Ok(record.into())
    }

    pub(super) async fn sign_in(&self, sign_in: SignIn, now: Timestamp) -> Result<(), LedgerError> {
        let mut plan = Plan::default();
        // Sessions that have ended go now, so they cannot pile up.
        for (key, json) in self.storage.list(SESSION_PREFIX, false, usize::MAX).await? {
            let ended =
                decode::<SessionRecord>(&key, &json).map_or(true, |r| r.check(now).is_err());
            if ended {
                plan.delete(key, json);
            }
        }
        self.remember_account(&mut plan, &sign_in.email).await?;
        let record = SessionRecord::new(self.user_id.clone(), sign_in.email, now);
        plan.put(session_key(&sign_in.session), encode(&record), None);
        audit::append(
            self.storage,
            &mut plan,
            vec![session_event(AuditAction::SignedIn, now)],
        )
        .await?;
        self.commit(&plan).await
    }

    pub(super) async fn end_session(&self, end: EndSession) -> Result<(), LedgerError> {
        let mut plan = Plan::default();
        if let Some(raw) = self.storage.get(&session_key(&end.session)).await? {
            plan.delete(session_key(&end.session), raw);
        }
        self.commit(&plan).await
    }

    pub(super) async fn sign_out(
        &self,
        sign_out: SignOut,
        now: Timestamp,
    ) -> Result<(), LedgerError> {
        let key = session_key(&sign_out.session);
        // Signing out of an already-ended session is not an error: the outcome is the same.
        let Some(raw) = self.storage.get(&key).await? else {
            return Ok(());
        };
        let mut plan = Plan::default();
        plan.delete(key, raw);
        audit::append(
            self.storage,
            &mut plan,
            vec![session_event(AuditAction::SignedOut, now)],
        )
        .await?;
        self.commit(&plan).await
    }
}
