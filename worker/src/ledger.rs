//! A user's token ledger: the logic of the per-user Durable Object, written against the
//! storage interfaces so it can be tested natively with faults injected.
//!
//! **Ordering invariant:** a KV validation record never exists without its ledger entry.
//! Create writes the ledger, then KV (and removes the ledger entry if KV fails); delete removes
//! the KV record, then the ledger entry; update writes the ledger, then KV, and restores the old
//! ledger entry if KV fails. Every change is serialized by the Durable Object (see
//! `ledger_object.rs`), so concurrent requests cannot interleave between those steps.

use serde::{Deserialize, Serialize};

use patgate_core::expiry::{Expiry, ExpiryDays};
use patgate_core::identity::{Email, TokenId, TokenName, UserId, RANDOM_BYTES_FOR_TOKEN_ID};
use patgate_core::record::{TokenRecord, RECORD_VERSION};
use patgate_core::session::{SessionKey, SessionRecord};
use patgate_core::time::Timestamp;
use patgate_core::token::{generate, StorageKey, RANDOM_BYTES_FOR_TOKEN};

use crate::log;
use crate::store::{LedgerStorage, StoreError, TokenStore};

/// Tokens one user may hold at once.
pub const MAX_TOKENS_PER_USER: usize = 200;
/// Audit events kept per user; older ones are dropped.
pub const AUDIT_RETENTION: u64 = 500;
/// "Last used" is written at most this often per token.
pub const LAST_USED_INTERVAL_SECONDS: u64 = 5 * 60;
/// A session's `last_seen_at` is refreshed at most this often (bounded writes; the idle
/// timeout is 30 minutes, so a minute of slack is immaterial).
const SESSION_TOUCH_INTERVAL_SECONDS: u64 = 60;

const TOKEN_PREFIX: &str = "token:";
const SESSION_PREFIX: &str = "session:";
const AUDIT_PREFIX: &str = "audit:";
const AUDIT_SEQUENCE_KEY: &str = "audit-sequence";

/// Randomness, a port: `getrandom` in the Worker, a fixed stream in tests.
pub trait Entropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), StoreError>;
}

/// A request to a user's ledger, as sent by the Worker to the Durable Object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LedgerRequest {
    pub user_id: UserId,
    pub command: Command,
}

/// How a PATCH changes the expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryChange {
    Keep,
    Never,
    Days(u16),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    SignIn {
        email: Email,
        session: SessionKey,
    },
    /// Ends a session without an audit event (a stale cookie replaced at sign-in).
    EndSession {
        session: SessionKey,
    },
    SignOut {
        session: SessionKey,
    },
    Me {
        session: SessionKey,
    },
    ListTokens {
        session: SessionKey,
    },
    CreateToken {
        session: SessionKey,
        name: TokenName,
        expires_in_days: Option<u16>,
    },
    UpdateToken {
        session: SessionKey,
        token_id: TokenId,
        name: Option<TokenName>,
        expiry: ExpiryChange,
    },
    DeleteToken {
        session: SessionKey,
        token_id: TokenId,
    },
    Audit {
        session: SessionKey,
    },
    RecordUse {
        token_id: TokenId,
        from: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: UserId,
    pub email: Email,
}

/// A token as the console API shows it: never the secret, never its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: TokenId,
    pub name: String,
    pub hint: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub last_used_from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Created,
    Renamed,
    ExpiryChanged,
    Deleted,
    SignedIn,
    SignedOut,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEventView {
    pub at: String,
    pub action: AuditAction,
    pub token_id: Option<TokenId>,
    pub token_name: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    SignedIn,
    SessionEnded,
    Me { user: UserView },
    Tokens { tokens: Vec<TokenView> },
    Created { token: TokenView, plaintext: String },
    Updated { token: TokenView },
    Deleted,
    Events { events: Vec<AuditEventView> },
    UseRecorded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerError {
    NotSignedIn,
    NotFound,
    TokenLimitReached,
    Unavailable,
}

impl From<StoreError> for LedgerError {
    fn from(error: StoreError) -> Self {
        log::error(&error.to_string());
        Self::Unavailable
    }
}

/// What the ledger keeps per token. The hash is kept so the KV record can be deleted; the
/// plaintext never is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TokenEntry {
    token_id: TokenId,
    storage_key: StorageKey,
    hint: String,
    name: TokenName,
    created_at: Timestamp,
    expires_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
    last_used_from: Option<String>,
}

impl TokenEntry {
    fn view(&self) -> TokenView {
        let render = |t: Timestamp| t.to_string();
        TokenView {
            id: self.token_id.clone(),
            name: self.name.as_str().to_owned(),
            hint: self.hint.clone(),
            created_at: render(self.created_at),
            expires_at: self.expires_at.map(render),
            last_used_at: self.last_used_at.map(render),
            last_used_from: self.last_used_from.clone(),
        }
    }

    fn record(&self, user_id: &UserId, email: &Email) -> TokenRecord {
        TokenRecord {
            v: RECORD_VERSION,
            token_id: self.token_id.clone(),
            user_id: user_id.clone(),
            email: email.clone(),
            name: self.name.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredAuditEvent {
    at: Timestamp,
    action: AuditAction,
    token_id: Option<TokenId>,
    token_name: Option<String>,
    detail: Option<String>,
}

impl StoredAuditEvent {
    fn view(self) -> AuditEventView {
        AuditEventView {
            at: self.at.to_string(),
            action: self.action,
            token_id: self.token_id,
            token_name: self.token_name,
            detail: self.detail,
        }
    }
}

/// One user's ledger over its storage ports.
pub struct Ledger<'a, L, T, E> {
    pub storage: &'a L,
    pub tokens: &'a T,
    pub entropy: &'a E,
    pub user_id: &'a UserId,
}

fn encode<V: Serialize>(value: &V) -> String {
    // Our own plain data types always serialize.
    serde_json::to_string(value).unwrap_or_default()
}

fn decode<V: for<'de> Deserialize<'de>>(key: &str, json: &str) -> Result<V, StoreError> {
    serde_json::from_str(json)
        .map_err(|e| StoreError(format!("unreadable ledger entry {key}: {e}")))
}

impl<L: LedgerStorage, T: TokenStore, E: Entropy> Ledger<'_, L, T, E> {
    pub async fn execute(&self, command: Command, now: Timestamp) -> Result<Reply, LedgerError> {
        match command {
            Command::SignIn { email, session } => self.sign_in(email, session, now).await,
            Command::EndSession { session } => {
                self.storage
                    .delete_many(vec![session_key(&session)])
                    .await?;
                Ok(Reply::SessionEnded)
            }
            Command::SignOut { session } => self.sign_out(session, now).await,
            Command::Me { session } => {
                let record = self.session(&session, now).await?;
                Ok(Reply::Me {
                    user: UserView {
                        id: record.user_id,
                        email: record.email,
                    },
                })
            }
            Command::ListTokens { session } => {
                self.session(&session, now).await?;
                let mut entries = self.entries().await?;
                entries.sort_by(|a, b| {
                    b.created_at
                        .cmp(&a.created_at)
                        .then_with(|| b.token_id.cmp(&a.token_id))
                });
                Ok(Reply::Tokens {
                    tokens: entries.iter().map(TokenEntry::view).collect(),
                })
            }
            Command::CreateToken {
                session,
                name,
                expires_in_days,
            } => {
                let record = self.session(&session, now).await?;
                self.create(&record.email, name, expires_in_days, now).await
            }
            Command::UpdateToken {
                session,
                token_id,
                name,
                expiry,
            } => {
                let record = self.session(&session, now).await?;
                self.update(&record.email, &token_id, name, expiry, now)
                    .await
            }
            Command::DeleteToken { session, token_id } => {
                self.session(&session, now).await?;
                self.delete(&token_id, now).await
            }
            Command::Audit { session } => {
                self.session(&session, now).await?;
                let events = self
                    .storage
                    .list(AUDIT_PREFIX, true, AUDIT_RETENTION as usize)
                    .await?;
                let events = events
                    .into_iter()
                    .map(|(key, json)| decode::<StoredAuditEvent>(&key, &json).map(|e| e.view()))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Reply::Events { events })
            }
            Command::RecordUse { token_id, from } => self.record_use(&token_id, from, now).await,
        }
    }

    /// Loads and checks the session, refreshing its idle timer. An ended session is removed.
    async fn session(
        &self,
        session: &SessionKey,
        now: Timestamp,
    ) -> Result<SessionRecord, LedgerError> {
        let key = session_key(session);
        let Some(json) = self.storage.get(&key).await? else {
            return Err(LedgerError::NotSignedIn);
        };
        let mut record: SessionRecord = decode(&key, &json)?;
        if &record.user_id != self.user_id {
            return Err(LedgerError::NotSignedIn);
        }
        if record.check(now).is_err() {
            self.storage.delete_many(vec![key]).await?;
            return Err(LedgerError::NotSignedIn);
        }
        if now.seconds_since(record.last_seen_at) >= SESSION_TOUCH_INTERVAL_SECONDS {
            record.last_seen_at = now;
            self.storage.put_many(vec![(key, encode(&record))]).await?;
        }
        Ok(record)
    }

    async fn sign_in(
        &self,
        email: Email,
        session: SessionKey,
        now: Timestamp,
    ) -> Result<Reply, LedgerError> {
        self.sweep_ended_sessions(now).await?;
        let record = SessionRecord::new(self.user_id.clone(), email, now);
        let event = StoredAuditEvent {
            at: now,
            action: AuditAction::SignedIn,
            token_id: None,
            token_name: None,
            detail: None,
        };
        let (audit, _) = self.audit_writes(vec![event]).await?;
        let mut writes = vec![(session_key(&session), encode(&record))];
        writes.extend(audit);
        self.storage.put_many(writes).await?;
        Ok(Reply::SignedIn)
    }

    async fn sign_out(&self, session: SessionKey, now: Timestamp) -> Result<Reply, LedgerError> {
        // Signing out of an already-ended session is not an error: the outcome is the same.
        let key = session_key(&session);
        if self.storage.get(&key).await?.is_some() {
            let event = StoredAuditEvent {
                at: now,
                action: AuditAction::SignedOut,
                token_id: None,
                token_name: None,
                detail: None,
            };
            let (writes, _) = self.audit_writes(vec![event]).await?;
            self.storage.delete_many(vec![key]).await?;
            self.storage.put_many(writes).await?;
        }
        Ok(Reply::SessionEnded)
    }

    async fn sweep_ended_sessions(&self, now: Timestamp) -> Result<(), LedgerError> {
        let sessions = self.storage.list(SESSION_PREFIX, false, usize::MAX).await?;
        let ended: Vec<String> = sessions
            .into_iter()
            .filter(|(key, json)| {
                decode::<SessionRecord>(key, json).map_or(true, |record| record.check(now).is_err())
            })
            .map(|(key, _)| key)
            .collect();
        if !ended.is_empty() {
            self.storage.delete_many(ended).await?;
        }
        Ok(())
    }

    async fn entries(&self) -> Result<Vec<TokenEntry>, LedgerError> {
        let listed = self.storage.list(TOKEN_PREFIX, false, usize::MAX).await?;
        Ok(listed
            .into_iter()
            .map(|(key, json)| decode(&key, &json))
            .collect::<Result<Vec<TokenEntry>, _>>()?)
    }

    async fn entry(&self, token_id: &TokenId) -> Result<TokenEntry, LedgerError> {
        let key = token_key(token_id);
        match self.storage.get(&key).await? {
            Some(json) => Ok(decode(&key, &json)?),
            None => Err(LedgerError::NotFound),
        }
    }

    async fn create(
        &self,
        email: &Email,
        name: TokenName,
        expires_in_days: Option<u16>,
        now: Timestamp,
    ) -> Result<Reply, LedgerError> {
        let held = self
            .storage
            .list(TOKEN_PREFIX, false, MAX_TOKENS_PER_USER)
            .await?;
        if held.len() >= MAX_TOKENS_PER_USER {
            return Err(LedgerError::TokenLimitReached);
        }
        let expiry = expiry_of(expires_in_days.map(u64::from))?;
        let token = loop {
            let mut random = [0u8; RANDOM_BYTES_FOR_TOKEN];
            self.entropy.fill(&mut random)?;
            if let Ok(token) = generate(&random) {
                break token;
            }
        };
        let token_id = loop {
            let mut random = [0u8; RANDOM_BYTES_FOR_TOKEN_ID];
            self.entropy.fill(&mut random)?;
            if let Ok(id) = TokenId::generate(&random) {
                break id;
            }
        };
        let entry = TokenEntry {
            token_id: token_id.clone(),
            storage_key: token.storage_key(),
            hint: token.hint().to_owned(),
            name: name.clone(),
            created_at: now,
            expires_at: expiry.expires_at(now),
            last_used_at: None,
            last_used_from: None,
        };
        let event = StoredAuditEvent {
            at: now,
            action: AuditAction::Created,
            token_id: Some(token_id.clone()),
            token_name: Some(name.as_str().to_owned()),
            detail: Some(describe_expiry(entry.expires_at)),
        };
        let (audit, audit_keys) = self.audit_writes(vec![event]).await?;
        let mut writes = vec![(token_key(&token_id), encode(&entry))];
        writes.extend(audit);
        self.storage.put_many(writes).await?;

        let record = entry.record(self.user_id, email).encode();
        if let Err(error) = self.tokens.put(&token.storage_key(), &record).await {
            // Leave nothing behind: the token never worked, so neither entry nor event stays.
            let mut undo = vec![token_key(&token_id)];
            undo.extend(audit_keys);
            if let Err(undo_error) = self.storage.delete_many(undo).await {
                log::error(&format!("create rollback failed: {undo_error}"));
            }
            return Err(error.into());
        }
        Ok(Reply::Created {
            token: entry.view(),
            plaintext: token.as_str().to_owned(),
        })
    }

    async fn update(
        &self,
        email: &Email,
        token_id: &TokenId,
        name: Option<TokenName>,
        expiry: ExpiryChange,
        now: Timestamp,
    ) -> Result<Reply, LedgerError> {
        let before = self.entry(token_id).await?;
        let mut after = before.clone();
        let mut events = Vec::new();
        if let Some(name) = name.filter(|name| name != &before.name) {
            events.push((
                AuditAction::Renamed,
                format!("{} → {}", before.name.as_str(), name.as_str()),
            ));
            after.name = name;
        }
        let new_expiry = match expiry {
            ExpiryChange::Keep => None,
            ExpiryChange::Never => Some(Expiry::Never),
            ExpiryChange::Days(days) => Some(expiry_of(Some(u64::from(days)))?),
        };
        if let Some(expiry) = new_expiry {
            after.expires_at = expiry.expires_at(now);
            events.push((
                AuditAction::ExpiryChanged,
                describe_expiry(after.expires_at),
            ));
        }
        if events.is_empty() {
            return Ok(Reply::Updated {
                token: after.view(),
            });
        }
        let events = events
            .into_iter()
            .map(|(action, detail)| StoredAuditEvent {
                at: now,
                action,
                token_id: Some(token_id.clone()),
                token_name: Some(after.name.as_str().to_owned()),
                detail: Some(detail),
            })
            .collect();
        let (audit, audit_keys) = self.audit_writes(events).await?;
        let mut writes = vec![(token_key(token_id), encode(&after))];
        writes.extend(audit);
        self.storage.put_many(writes).await?;

        let record = after.record(self.user_id, email).encode();
        if let Err(error) = self.tokens.put(&after.storage_key, &record).await {
            // KV still holds the old record, so restore the ledger entry that matches it.
            if let Err(undo_error) = self.storage.delete_many(audit_keys).await {
                log::error(&format!("update rollback (audit) failed: {undo_error}"));
            }
            if let Err(undo_error) = self
                .storage
                .put_many(vec![(token_key(token_id), encode(&before))])
                .await
            {
                log::error(&format!("update rollback failed: {undo_error}"));
            }
            return Err(error.into());
        }
        Ok(Reply::Updated {
            token: after.view(),
        })
    }

    async fn delete(&self, token_id: &TokenId, now: Timestamp) -> Result<Reply, LedgerError> {
        let entry = self.entry(token_id).await?;
        // KV first: once this succeeds the token no longer validates, whatever happens next.
        self.tokens.delete(&entry.storage_key).await?;
        let event = StoredAuditEvent {
            at: now,
            action: AuditAction::Deleted,
            token_id: Some(token_id.clone()),
            token_name: Some(entry.name.as_str().to_owned()),
            detail: None,
        };
        let (writes, _) = self.audit_writes(vec![event]).await?;
        self.storage.delete_many(vec![token_key(token_id)]).await?;
        self.storage.put_many(writes).await?;
        Ok(Reply::Deleted)
    }

    async fn record_use(
        &self,
        token_id: &TokenId,
        from: Option<String>,
        now: Timestamp,
    ) -> Result<Reply, LedgerError> {
        let mut entry = match self.entry(token_id).await {
            Err(LedgerError::NotFound) => return Ok(Reply::UseRecorded),
            other => other?,
        };
        let recent = entry
            .last_used_at
            .is_some_and(|at| now.seconds_since(at) < LAST_USED_INTERVAL_SECONDS);
        if !recent {
            entry.last_used_at = Some(now);
            entry.last_used_from = from.filter(|place| !place.is_empty());
            self.storage
                .put_many(vec![(token_key(token_id), encode(&entry))])
                .await?;
        }
        Ok(Reply::UseRecorded)
    }

    /// The writes that append `events` in order and advance the sequence, and the keys of the
    /// appended events (for an undo). The events that fall out of retention are dropped.
    async fn audit_writes(
        &self,
        events: Vec<StoredAuditEvent>,
    ) -> Result<(Vec<(String, String)>, Vec<String>), LedgerError> {
        let mut sequence = match self.storage.get(AUDIT_SEQUENCE_KEY).await? {
            Some(json) => decode::<u64>(AUDIT_SEQUENCE_KEY, &json)?,
            None => 0,
        };
        let mut writes = Vec::new();
        let mut keys = Vec::new();
        let mut expired = Vec::new();
        for event in events {
            sequence += 1;
            if sequence > AUDIT_RETENTION {
                expired.push(audit_key(sequence - AUDIT_RETENTION));
            }
            keys.push(audit_key(sequence));
            writes.push((audit_key(sequence), encode(&event)));
        }
        if !expired.is_empty() {
            self.storage.delete_many(expired).await?;
        }
        writes.push((AUDIT_SEQUENCE_KEY.to_owned(), sequence.to_string()));
        Ok((writes, keys))
    }
}

fn expiry_of(days: Option<u64>) -> Result<Expiry, LedgerError> {
    match days {
        None => Ok(Expiry::Never),
        // The Worker validated the range already; a bad value here is an internal error.
        Some(days) => ExpiryDays::new(days)
            .map(Expiry::InDays)
            .map_err(|_| LedgerError::Unavailable),
    }
}

fn describe_expiry(expires_at: Option<Timestamp>) -> String {
    match expires_at {
        None => "never expires".to_owned(),
        Some(at) => format!("expires {at}"),
    }
}

fn token_key(token_id: &TokenId) -> String {
    format!("{TOKEN_PREFIX}{}", token_id.as_str())
}

fn session_key(session: &SessionKey) -> String {
    format!("{SESSION_PREFIX}{}", session.as_str())
}

fn audit_key(sequence: u64) -> String {
    // Zero-padded so that key order is sequence order.
    format!("{AUDIT_PREFIX}{sequence:020}")
}
