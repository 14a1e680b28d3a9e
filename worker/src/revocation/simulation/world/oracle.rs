//! The oracle: every token's history as its ledger made it, and the judgement of each answer
//! against it.

use super::*;

/// What validation answered, as far as the oracle cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct State {
    pub(super) name: String,
    pub(super) expires_at: Option<Timestamp>,
}

/// One change to a token, as its ledger made it.
#[derive(Debug)]
pub(super) struct Change {
    pub(super) started: u64,
    pub(super) answered: u64,
    pub(super) state: Option<State>,
}

#[derive(Debug)]
pub(super) struct Tracked {
    pub(super) user: usize,
    pub(super) id: TokenId,
    pub(super) key: StorageKey,
    pub(super) header: String,
    pub(super) history: Vec<Change>,
}

impl World {
    /// What the ledger holds for a token now.
    pub(super) async fn truth(&self, user_id: &UserId, lookup: LookupToken) -> Option<State> {
        let key = lookup.storage_key.clone();
        let request = encode(&LookupRequest {
            user_id: user_id.clone(),
            lookup,
        });
        let reply: LookupReply =
            serde_json::from_str(&self.lookup_directly(user_id, &request).await).unwrap();
        let json = reply.unwrap()?;
        let record = StoredRecord::decode(key, &json).unwrap();
        Some(State {
            name: record.record().name.as_str().to_owned(),
            expires_at: record.record().expires_at,
        })
    }

    pub(super) fn track(&self, user: usize, id: TokenId, plaintext: &str, started: u64) {
        let key = UntrustedToken::parse(plaintext)
            .unwrap()
            .storage_key()
            .clone();
        self.tokens.borrow_mut().push(Tracked {
            user,
            id,
            key,
            header: format!("Bearer {plaintext}"),
            history: vec![Change {
                started,
                answered: started,
                state: None,
            }],
        });
    }

    /// Appends each of `user`'s tokens' state to its history where the command changed it.
    pub(super) async fn record_truth(&self, user: usize, started: u64) {
        let count = self.tokens.borrow().len();
        for index in 0..count {
            let lookup = {
                let tokens = self.tokens.borrow();
                let tracked = &tokens[index];
                (tracked.user == user).then(|| LookupToken {
                    token_id: tracked.id.clone(),
                    storage_key: tracked.key.clone(),
                })
            };
            let Some(lookup) = lookup else { continue };
            let truth = self.truth(&self.users[user].id, lookup).await;
            let mut tokens = self.tokens.borrow_mut();
            let history = &mut tokens[index].history;
            if history.last().map(|c| &c.state) != Some(&truth) {
                history.push(Change {
                    started,
                    answered: self.now(),
                    state: truth,
                });
            }
        }
    }
    pub(super) fn judge(&self, place: usize, token: usize, served: Result<State, ApiError>) {
        let now = self.now();
        let tokens = self.tokens.borrow();
        let tracked = &tokens[token];
        let mut report = self.report.borrow_mut();
        report.validations += 1;
        // history[0] is "not yet created", history[1] the creation: a third entry is a change.
        let changed = tracked.history.len() > 2;
        if changed
            && tracked
                .history
                .last()
                .is_some_and(|c| now > c.answered + self.bound_ms)
        {
            report.checked_after_bound += 1;
        }
        let place_name = format!("location {place}");
        match served {
            Ok(state) => {
                let seen = tracked
                    .history
                    .iter()
                    .rposition(|c| c.started <= now && c.state.as_ref() == Some(&state));
                let Some(held) = seen else {
                    let in_flight = self
                        .busy
                        .get()
                        .is_some_and(|(user, _)| user == tracked.user);
                    if !in_flight {
                        report.violations.push(format!(
                            "{place_name} at {now} ms: valid with {state:?}, which the ledger never held"
                        ));
                    }
                    return;
                };
                let stale = tracked
                    .history
                    .get(held + 1)
                    .map_or(0, |next| now.saturating_sub(next.answered));
                report.worst_stale_ms = report.worst_stale_ms.max(stale);
                if stale > self.bound_ms {
                    report.violations.push(format!(
                        "{place_name} at {now} ms: valid with {state:?} {stale} ms after the ledger replaced it"
                    ));
                }
            }
            Err(error) => {
                let unavailable = error == ApiError::StoreUnavailable;
                if unavailable {
                    report.unavailable += 1;
                } else {
                    assert_eq!(error, ApiError::InvalidToken, "unexpected answer");
                }
                let settled_valid = tracked.history.last().is_some_and(|last| {
                    last.state.is_some() && now >= last.answered + self.settle_ms()
                });
                if !self.s.has_faults() && (unavailable || settled_valid) {
                    report.liveness_failures.push(format!(
                        "{place_name} at {now} ms: {error:?} for a token in force since {:?}",
                        tracked.history.last().map(|c| c.answered)
                    ));
                }
            }
        }
    }

    /// By when every location's KV has caught up with a change.
    pub(super) fn settle_ms(&self) -> u64 {
        let lag = self.s.places.iter().map(|p| p.lag_ms).max().unwrap_or(0);
        CACHE_TTL_MS + lag + 5_000
    }
}
