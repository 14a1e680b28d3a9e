//! What a report must carry: a signature over its raw body by a key the scanner publishes.

use super::*;

#[test]
fn a_report_is_refused_unless_its_signature_verifies_and_nothing_is_revoked() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let token = world.create(&ada, "CI").plaintext;
    let body = report_of(&[&token]);
    let der = der_signature(&world.signer, &body);
    let good = STANDARD.encode(&der);
    let keys = ScannerKeyCache::new(&world.server);
    let refused = |identifier: Option<&str>, signature: Option<&str>, body: &[u8]| {
        assert_eq!(
            world.send(&keys, identifier, signature, body),
            Err(ApiError::SignatureRefused),
            "{identifier:?} {signature:?}"
        );
    };
    let mut tampered = body.clone();
    tampered[2] ^= 1;
    refused(Some(KEY_ID), Some(&good), &tampered);
    // Re-serialized JSON is another body: the signature covers the raw bytes.
    let reserialized = serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body).unwrap());
    refused(Some(KEY_ID), Some(&good), &reserialized.unwrap());
    refused(None, Some(&good), &body);
    refused(Some(KEY_ID), None, &body);
    refused(Some("another-key"), Some(&good), &body);
    refused(Some(KEY_ID), Some("not base64!"), &body);
    refused(Some(KEY_ID), Some(&STANDARD.encode(&der[2..])), &body);
    // DER re-encodings of the very signature: a long-form length, trailing bytes.
    let mut long_form = vec![0x30, 0x81];
    long_form.extend(&der[1..]);
    refused(Some(KEY_ID), Some(&STANDARD.encode(&long_form)), &body);
    let mut trailing = der.clone();
    trailing.push(0);
    refused(Some(KEY_ID), Some(&STANDARD.encode(&trailing)), &body);
    // The raw r‖s form is not what the header carries.
    let raw: Signature = world.signer.sign(&body);
    refused(Some(KEY_ID), Some(&STANDARD.encode(raw.to_bytes())), &body);
    // Signed by a key the scanner does not publish, under its key's name.
    let forger = SigningKey::from_slice(&[8; 32]).unwrap();
    refused(
        Some(KEY_ID),
        Some(&STANDARD.encode(der_signature(&forger, &body))),
        &body,
    );
    assert!(world.validates(&token));
    assert!(world.act(&ada, Notices {}).unwrap().is_empty());
    // One fetch of the key list: an unknown key id within the minute fetches nothing more.
    assert_eq!(world.server.requests.get(), 1);
}

#[test]
fn the_other_ecdsa_signature_of_the_same_body_changes_nothing() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let token = world.create(&ada, "CI").plaintext;
    let body = report_of(&[&token]);
    let first = world.report(&body).unwrap();
    let stored = world.stored();
    // (r, n − s) verifies too: ECDSA's own malleability. The report is the same report.
    let signature: Signature = world.signer.sign(&body);
    let (r, s) = signature.split_scalars();
    let flipped = Signature::from_scalars(r, -*s).unwrap();
    assert!(world.signer.verifying_key().verify(&body, &flipped).is_ok());
    let reply = world
        .send(
            &ScannerKeyCache::new(&world.server),
            Some(KEY_ID),
            Some(&STANDARD.encode(flipped.to_der().as_bytes())),
            &body,
        )
        .unwrap();
    assert_eq!(labels(&reply), labels(&first));
    assert_eq!(world.stored(), stored);
    assert_eq!(world.act(&ada, Notices {}).unwrap().len(), 1);
}

#[test]
fn keys_are_fetched_again_for_an_unknown_id_at_most_once_a_minute() {
    let world = World::new();
    let body = report_of(&[]);
    let rotated = SigningKey::from_slice(&[11; 32]).unwrap();
    let signature = STANDARD.encode(der_signature(&rotated, &body));
    let keys = ScannerKeyCache::new(&world.server);
    let send = |offset| {
        world.ledgers.offset.set(offset);
        world.send(&keys, Some("rotated"), Some(&signature), &body)
    };
    assert_eq!(send(0), Err(ApiError::SignatureRefused));
    assert_eq!(send(1), Err(ApiError::SignatureRefused));
    assert_eq!(
        world.server.requests.get(),
        1,
        "no refetch within the minute"
    );
    *world.server.document.borrow_mut() = KeyServer::publishing(&[("rotated", &rotated)])
        .document
        .into_inner();
    assert_eq!(send(KEYS_REFETCH_INTERVAL_SECONDS).unwrap().status, 200);
    assert_eq!(world.server.requests.get(), 2);
    assert_eq!(send(KEYS_REFETCH_INTERVAL_SECONDS + 1).unwrap().status, 200);
    assert_eq!(world.server.requests.get(), 2, "kept");
}
