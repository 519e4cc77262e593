package io.riskpdp.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The whole decision API a payment service uses, against a live {@code pdp serve}. */
@ExtendWith(Sidecar.Extension.class)
class DecisionApiTest {
  private Sidecar sidecar;
  private PdpClient pdp;

  @BeforeEach
  void setUp(Sidecar sidecar) {
    this.sidecar = sidecar;
    // The default 100 ms is meant for a sidecar next to the service; the shared CI machine's
    // first decisions (a cold policy) get more room.
    this.pdp = PdpClient.builder(sidecar.url).timeout(java.time.Duration.ofSeconds(5)).build();
  }

  /** 6000 CNY from a new device abroad for an account opened in 2021: the policy steps up. */
  static DecideRequest payment(String uid, String txnId) {
    return DecideRequest.builder(Stage.PAYMENT, uid)
        .requestId("r-" + txnId)
        .device(Device.builder().id("d-77").ip("203.0.113.7").ipCountry("SG").isNew(true).build())
        .txn(Txn.builder(txnId, new BigDecimal("6000"), "CNY").category("digital").build())
        .account(Account.of("CN", Instant.parse("2021-03-01T00:00:00Z")))
        .build();
  }

  private static final java.util.concurrent.atomic.AtomicInteger HOSTS = new java.util.concurrent.atomic.AtomicInteger();

  /**
   * 120 CNY from home: allowed. Each call comes from a device and an address of its own (the
   * tests share one sidecar, which counts what each device and address does).
   */
  static DecideRequest everyday(String uid, String txnId) {
    int h = HOSTS.incrementAndGet();
    String ip = "10." + (h >> 16 & 0xFF) + "." + (h >> 8 & 0xFF) + "." + (h & 0xFF);
    return DecideRequest.builder(Stage.PAYMENT, uid)
        .device(Device.builder().id("d-" + uid).ip(ip).ipCountry("CN").build())
        .txn(Txn.builder(txnId, new BigDecimal("120"), "CNY").category("daily_goods").build())
        .account(Account.of("CN", Instant.parse("2020-01-01T00:00:00Z")))
        .build();
  }

  static String id(String prefix) {
    return prefix + "-" + UUID.randomUUID();
  }

  @Test
  void stepUpVerifyRetryAllow() {
    String uid = id("u-step");
    DecideRequest req = payment(uid, id("t"));

    Decision first = pdp.decide(req);
    assertEquals(Outcome.STEP_UP, first.outcome(), first.toString());
    assertTrue(first.isStepUp());
    assertEquals(req.requestId(), first.requestId());
    assertTrue(first.reasons().contains("large_amount"), first.reasons().toString());
    assertNotNull(first.decisionId());
    assertFalse(first.fallback());
    assertFalse(first.message().isEmpty());
    assertTrue(first.policyRevision().startsWith("sha256:"), first.policyRevision());
    Decision.StepUp s = first.stepUp();
    assertNotNull(s);
    assertFalse(s.methods().isEmpty());
    assertTrue(s.challengeId().startsWith("c3."), s.challengeId());
    assertTrue(s.expiresAt().isAfter(Instant.now()), s.expiresAt().toString());

    // Deciding again before the check releases nothing.
    assertEquals(Outcome.STEP_UP, pdp.decide(req.withChallenge(s.challengeId())).outcome());

    Verification.Status v = null;
    for (String method : s.methods()) {
      v = pdp.verify(s.challengeId(), method, Verification.Result.PASSED);
      assertTrue(v.passed().contains(method), v.toString());
      assertEquals(s.methods(), v.methods());
    }
    assertTrue(v.isPassed(), v.toString());
    // Reporting the same result again changes nothing (what makes verify safe to retry).
    Verification.Status again = pdp.verify(s.challengeId(), s.methods().get(0), Verification.Result.PASSED);
    assertEquals(v, again);

    Decision retry = pdp.decide(req.withChallenge(s.challengeId()));
    assertEquals(Outcome.ALLOW, retry.outcome(), retry.toString());
    assertTrue(retry.isAllow());
    assertTrue(retry.reasons().contains("step_up_verified"), retry.reasons().toString());
    assertNotEquals(first.decisionId(), retry.decisionId());
    if (retry.limit() != null) {
      // A conditional release's cap covers the released amount.
      assertTrue(retry.limit().dailyAmount().compareTo(new BigDecimal("6000")) >= 0, retry.limit().toString());
      assertEquals("CNY", retry.limit().currency());
    }
  }

  @Test
  void aFailedCheckDenies() {
    String uid = id("u-fail");
    DecideRequest req = payment(uid, id("t"));
    Decision first = pdp.decide(req);
    assertEquals(Outcome.STEP_UP, first.outcome());
    String challenge = first.stepUp().challengeId();
    String method = first.stepUp().methods().get(0);
    Verification.Status v = pdp.verify(new Verification(challenge, method, Verification.Result.FAILED, uid));
    assertEquals("failed", v.status());
    // A later "passed" does not undo it.
    assertEquals("failed", pdp.verify(challenge, method, Verification.Result.PASSED).status());
    assertEquals(Outcome.DENY, pdp.decide(req.withChallenge(challenge)).outcome());
  }

  @Test
  void verificationErrorsAreTyped() {
    PdpApiException e = assertThrows(PdpApiException.class,
        () -> pdp.verify("c2.forged", "face", Verification.Result.PASSED));
    assertEquals(404, e.status());
    assertEquals("not_found", e.code());
    assertEquals("challenge_id", e.field());

    Decision d = pdp.decide(payment(id("u-verr"), id("t")));
    PdpApiException other = assertThrows(PdpApiException.class,
        () -> pdp.verify(new Verification(d.stepUp().challengeId(), d.stepUp().methods().get(0),
            Verification.Result.PASSED, "u-someone-else")));
    assertEquals(403, other.status());
    assertEquals("forbidden", other.code());
    assertEquals("uid", other.field());
    PdpApiException method = assertThrows(PdpApiException.class,
        () -> pdp.verify(d.stepUp().challengeId(), "carrier-pigeon", Verification.Result.PASSED));
    assertEquals(400, method.status());
    assertEquals("invalid_value", method.code());
    assertEquals("method", method.field());
  }

  @Test
  void decideErrorsNameTheField() {
    DecideRequest negative = DecideRequest.builder(Stage.PAYMENT, id("u-err"))
        .txn(Txn.builder("t-1", new BigDecimal("-5"), "CNY").build()).build();
    PdpApiException e = assertThrows(PdpApiException.class, () -> pdp.decide(negative));
    assertEquals(400, e.status());
    assertEquals("invalid_value", e.code());
    assertEquals("txn.amount", e.field());
    assertTrue(e.isClientError());
    assertFalse(e.detail().isEmpty());
    assertTrue(e.getMessage().contains("txn.amount"), e.getMessage());

    DecideRequest noTxn = DecideRequest.builder(Stage.WITHDRAWAL, id("u-err")).build();
    PdpApiException missing = assertThrows(PdpApiException.class, () -> pdp.decide(noTxn));
    assertEquals(400, missing.status());
    assertEquals("missing_field", missing.code());
    assertEquals("txn", missing.field());

    // A card number in the free-form context is refused, and not echoed back.
    DecideRequest card = everyday(id("u-err"), id("t")).withRequestId(null);
    DecideRequest withCard = new DecideRequest(null, null, null, card.stage(), card.uid(),
        card.device(), card.txn(), card.account(), Map.of("note", "4111 1111 1111 1111"));
    PdpApiException pan = assertThrows(PdpApiException.class, () -> pdp.decide(withCard));
    assertEquals("card_number", pan.code());
    assertEquals("context.note", pan.field());
    assertFalse(pan.getMessage().contains("4111 1111"), pan.getMessage());
  }

  @Test
  void everyStageDecides() {
    String uid = id("u-stages");
    Device phone = Device.builder().id("d-1").ip("198.51.100.7").ipCountry("CN").os("android")
        .model("p1").appVersion("7.1").build();
    Account acct = new Account("CN", Instant.parse("2020-01-01T00:00:00Z"), false,
        List.of(new Account.AccountChange("profile_change", Instant.now().minusSeconds(86400 * 40))));
    for (Stage stage : Stage.values()) {
      DecideRequest.Builder b = DecideRequest.builder(stage, uid).locale("zh").device(phone).account(acct);
      if (stage != Stage.LOGIN) {
        b.txn(Txn.builder(id("t"), new BigDecimal("12.50"), "CNY").merchant("m-1")
            .paymentMethod("wallet").instrument("fp-" + stage.wire()).build());
      }
      Decision d = pdp.decide(b.build());
      assertNotNull(d.outcome(), stage + ": " + d);
      assertFalse(d.fallback(), stage + ": " + d);
    }
  }

  @Test
  void outcomesAreIdempotentAndTyped() {
    String uid = id("u-out");
    String txn = id("t");
    Decision allowed = pdp.decide(everyday(uid, txn));
    assertEquals(Outcome.ALLOW, allowed.outcome(), allowed.toString());

    PaymentOutcome.Recorded r = pdp.reportOutcome(PaymentOutcome.of(uid, txn, PaymentOutcome.Status.COMPLETED));
    assertTrue(r.recorded());
    assertTrue(r.known());
    assertEquals(txn, r.txnId());
    assertEquals(PaymentOutcome.Status.COMPLETED, r.status());
    assertEquals(1, r.outcomes().size());
    assertNotNull(r.outcomes().get(0).at());

    // The same status again: answered as before, nothing changed.
    PaymentOutcome.Recorded again = pdp.reportOutcome(PaymentOutcome.of(uid, txn, PaymentOutcome.Status.COMPLETED));
    assertFalse(again.recorded());
    assertEquals(1, again.outcomes().size());

    PdpApiException conflict = assertThrows(PdpApiException.class,
        () -> pdp.reportOutcome(PaymentOutcome.of(uid, txn, PaymentOutcome.Status.FAILED)));
    assertEquals(409, conflict.status());
    assertEquals("conflict", conflict.code());

    PdpApiException unknown = assertThrows(PdpApiException.class,
        () -> pdp.reportOutcome(PaymentOutcome.of(uid, "t-never-allowed", PaymentOutcome.Status.COMPLETED)));
    assertEquals(404, unknown.status());
    assertEquals("not_found", unknown.code());

    // A label weeks later is recorded even for a payment the sidecar does not keep.
    PaymentOutcome.Recorded label = pdp.reportOutcome(new PaymentOutcome(uid, "t-old", 
        PaymentOutcome.Status.CHARGEBACK, new BigDecimal("99.90"), "CNY", Instant.now().minusSeconds(60)));
    assertTrue(label.recorded());
    assertFalse(label.known());
  }

  @Test
  void eventsAreRecorded() {
    String uid = id("u-ev");
    AccountEvent.Recorded r = pdp.reportEvent(AccountEvent.of(uid, AccountEvent.Kind.PHONE_CHANGE));
    assertTrue(r.recorded());
    assertEquals(AccountEvent.Kind.PHONE_CHANGE, r.kind());
    assertNotNull(r.at());

    Instant at = Instant.now().minusSeconds(3600).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    AccountEvent.Recorded dated = pdp.reportEvent(new AccountEvent(uid, AccountEvent.Kind.LOGIN_FAILED, at, "d-1"));
    assertEquals(at, dated.at());

    PdpApiException future = assertThrows(PdpApiException.class, () -> pdp.reportEvent(
        new AccountEvent(uid, AccountEvent.Kind.PIN_FAILED, Instant.now().plusSeconds(3600), null)));
    assertEquals(400, future.status());
    assertEquals("at", future.field());
  }

  @Test
  void appealsOfAFrozenAccount() throws Exception {
    String uid = id("u-frozen");
    PdpApiException nothing = assertThrows(PdpApiException.class,
        () -> pdp.appeal(Appeal.Request.of(uid, "Why?")));
    assertEquals(409, nothing.status());
    assertEquals("nothing_to_appeal", nothing.code());
    AccountStatus ok = pdp.accountStatus(uid, null);
    assertEquals("ok", ok.status());
    assertFalse(ok.canAppeal());

    sidecar.admin("/admin/v1/accounts/" + uid + "/freeze",
        "{\"kind\":\"temporary\",\"duration\":\"30m\",\"operator\":\"java-test\",\"reason\":\"client test\",\"ticket\":\"T-1\"}");
    assertEquals(Outcome.DENY, pdp.decide(everyday(uid, id("t"))).outcome());

    Appeal.Request req = new Appeal.Request(uid, "I was travelling; the payments were mine.",
        List.of("kyc-77"), "app-" + UUID.randomUUID());
    Appeal a = pdp.appeal(req);
    assertEquals("open", a.status());
    assertEquals(uid, a.uid());
    assertTrue(a.answerDueAt().isAfter(a.lodgedAt()));
    // The same request id answers the appeal it lodged.
    assertEquals(a.appealId(), pdp.appeal(req).appealId());
    // Without one the client sets its own: another appeal.
    Appeal b = pdp.appeal(Appeal.Request.of(uid, "Please look again."));
    assertNotEquals(a.appealId(), b.appealId());

    AccountStatus st = pdp.accountStatus(uid, "zh");
    assertEquals("frozen", st.status());
    assertEquals(List.of(Stage.values()), st.functions());
    assertNotNull(st.until());
    assertTrue(st.canAppeal());
    assertFalse(st.message().isEmpty());
    assertEquals(List.of(a.appealId(), b.appealId()), st.appeals().stream().map(Appeal::appealId).toList());
    assertNull(st.appeals().get(0).answeredAt());
    assertNotEquals(st.message(), pdp.accountStatus(uid, "en").message());

    PdpApiException doc = assertThrows(PdpApiException.class, () -> pdp.appeal(
        new Appeal.Request(uid, "see attached", List.of("data:image/png;base64,AAAA"), null)));
    assertEquals(400, doc.status());
    assertEquals("documents[0]", doc.field());
  }

  @Test
  void accountStatusEscapesTheUid() {
    AccountStatus st = pdp.accountStatus("u/7 é?#", null);
    assertEquals("u/7 é?#", st.uid());
    assertEquals("ok", st.status());
    assertTrue(st.appeals().isEmpty());
  }

  @Test
  void health() {
    assertEquals("ok", pdp.live().status());
    Health ready = pdp.ready();
    assertEquals("ready", ready.status());
    assertTrue(ready.degraded().isEmpty(), ready.toString());
  }
}
