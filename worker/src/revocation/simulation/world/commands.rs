//! The users' actions, run one at a time through the real JSON protocol, as a signed-in user.

use super::*;

impl World {
    pub(super) async fn command(&self, action: Action) {
        let network = LedgerClient::new(Network(self));
        let started = self.now();
        let token_count = self.tokens.borrow().len();
        let pick = |index: usize| (token_count > 0).then(|| index % token_count);
        let user = match action {
            Action::Create { user, .. } | Action::RevokeAll { user } => user % self.users.len(),
            Action::Rename { token } | Action::Redate { token, .. } | Action::Delete { token } => {
                let Some(index) = pick(token) else { return };
                self.tokens.borrow()[index].user
            }
        };
        self.busy.set(Some((user, started)));
        let id = |index: usize| self.tokens.borrow()[index % token_count].id.clone();
        let failed = match action {
            Action::Create {
                expires_in_days, ..
            } => {
                let name = TokenName::parse(&format!("t{token_count}")).unwrap();
                let expiry = expires_in_days.map_or(Expiry::Never, |d| {
                    Expiry::InDays(ExpiryDays::new(d).unwrap())
                });
                match self.act(&network, user, CreateToken { name, expiry }).await {
                    Ok(created) => {
                        self.track(user, created.token.id, &created.plaintext, started);
                        false
                    }
                    Err(_) => true,
                }
            }
            Action::Rename { token } => {
                let name = TokenName::parse(&format!("n{started}")).unwrap();
                let update = UpdateToken {
                    token_id: id(token),
                    name: Some(name),
                    expiry: None,
                };
                self.act(&network, user, update).await.is_err()
            }
            Action::Redate { token, days } => {
                let update = UpdateToken {
                    token_id: id(token),
                    name: None,
                    expiry: Some(Expiry::InDays(ExpiryDays::new(days).unwrap())),
                };
                self.act(&network, user, update).await.is_err()
            }
            Action::Delete { token } => {
                let delete = DeleteToken {
                    token_id: id(token),
                };
                self.act(&network, user, delete).await.is_err()
            }
            Action::RevokeAll { .. } => self.act(&network, user, RevokeAllTokens {}).await.is_err(),
        };
        if failed {
            self.report.borrow_mut().failed_commands += 1;
        }
        self.record_truth(user, started).await;
        self.busy.set(None);
    }

    async fn act<A: UserCall>(
        &self,
        network: &LedgerClient<Network<'_>>,
        user: usize,
        action: A,
    ) -> Result<A::Reply, ApiError> {
        let user = &self.users[user];
        let call = AsUser {
            session: user.session.clone(),
            action,
        };
        network.call(&user.id, call).await
    }
}
