//! The validation traffic: each isolate validates the watched tokens at its own location with
//! the Worker's own code, then refreshes its feed copy off the response path if due.

use super::*;

impl World {
    /// The clock of `place`, as its isolates read it.
    fn local_millis(&self, place: usize) -> UnixMillis {
        let skew = self.s.places[place].skew_ms;
        UnixMillis(EPOCH_MS.saturating_add_signed(self.now() as i64 + skew))
    }

    pub(super) async fn poll(&self, place: usize, isolate: usize) {
        let count = self.polls.get() + 1;
        self.polls.set(count);
        let watched: Vec<usize> = {
            let tokens = self.tokens.borrow();
            (0..tokens.len())
                .filter(|&i| {
                    let last = tokens[i].history.last().map_or(0, |c| c.answered);
                    count % SPOT_CHECK_EVERY == 0 || self.now() < last + WATCH_MS
                })
                .collect()
        };
        for token in watched {
            self.validate(place, isolate, token).await;
        }
        if self.s.validation == Validation::Gate(crate::revocation::RevocationMode::Fast) {
            let copy = &self.places[place].isolates[isolate];
            let now = self.local_millis(place);
            if copy.claim_refresh(now) {
                let at = self.now() + 5 + self.random(100);
                let fetch = Event::Fetch {
                    place,
                    isolate,
                    started: now,
                };
                self.background.borrow_mut().push(at, fetch);
            }
        }
    }

    async fn validate(&self, place: usize, isolate: usize, token: usize) {
        let header = self.tokens.borrow()[token].header.clone();
        let kv = KvAt { world: self, place };
        let now = self.local_millis(place);
        let outcome = match self.s.validation {
            Validation::Gate(mode) => {
                let gate = Gate {
                    mode,
                    feed: &self.places[place].isolates[isolate],
                    source: &SourceAt { world: self, place },
                    authority: &LedgerClient::new(Network(self)),
                };
                authenticate(Some(&header), &kv, &gate, now).await
            }
            Validation::KvAlone => authenticate(Some(&header), &kv, &KvAlone, now).await,
        };
        let served = outcome.map(|principal| State {
            name: principal.token_name().as_str().to_owned(),
            expires_at: principal.expires_at(),
        });
        self.judge(place, token, served);
    }
}
