package io.riskpdp.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The client's JSON: what it sends, and what it makes of any answer (no sidecar needed). */
class CodecTest {
  private final PdpClient pdp = PdpClient.create("127.0.0.1:9");

  @Test
  void aRequestIsWrittenAsTheApiNamesIt() throws Exception {
    DecideRequest r = DecideRequest.builder(Stage.PAYMENT, "u-1")
        .requestId("r-1")
        .locale("zh")
        .device(Device.builder().id("d-1").ipCountry("SG").isNew(false).build())
        .txn(Txn.builder("t-1", new BigDecimal("6800.00"), "CNY").orderId("o-1").cardBin("411111")
            .destinationNew(true).build())
        .account(new Account("CN", Instant.parse("2021-03-01T00:00:00Z"), null,
            List.of(new Account.AccountChange("phone_change", Instant.parse("2026-11-22T09:00:00.5Z")))))
        .context(Map.of("third_party_guidance", true))
        .build()
        .withChallenge("c2.x");
    String json = Json.mapper().writeValueAsString(r);
    assertEquals("{\"request_id\":\"r-1\",\"challenge_id\":\"c2.x\",\"locale\":\"zh\",\"stage\":\"payment\","
        + "\"uid\":\"u-1\",\"device\":{\"id\":\"d-1\",\"ip_country\":\"SG\",\"new\":false},"
        + "\"txn\":{\"id\":\"t-1\",\"order_id\":\"o-1\",\"amount\":6800.00,\"currency\":\"CNY\","
        + "\"card_bin\":\"411111\",\"destination_new\":true},"
        + "\"account\":{\"home_country\":\"CN\",\"created_at\":\"2021-03-01T00:00:00Z\","
        + "\"recent_changes\":[{\"kind\":\"phone_change\",\"at\":\"2026-11-22T09:00:00.500Z\"}]},"
        + "\"context\":{\"third_party_guidance\":true}}", json);
    // An amount with a negative scale is still a plain number.
    assertTrue(Json.mapper().writeValueAsString(Txn.builder("t", new BigDecimal("6E+3"), "CNY").build())
        .contains("\"amount\":6000"));
  }

  @Test
  void anAnswerIsReadWithUnknownFieldsIgnored() {
    String answer = "{\"decision_id\":\"01a2\",\"request_id\":\"r-step\",\"outcome\":\"step_up\","
        + "\"reasons\":[\"large_amount\"],\"step_up\":{\"methods\":[\"face\"],\"challenge_id\":\"c2.A\","
        + "\"expires_at\":\"2026-12-06T22:14:27.123456789Z\"},\"message\":\"Please verify.\","
        + "\"limit\":{\"daily_amount\":1e+21,\"currency\":\"CNY\"},\"fallback\":true,"
        + "\"policy_revision\":\"sha256:5f\",\"took_us\":415,\"added_later\":{\"x\":[1]}}";
    Decision d = pdp.decode("/v1/decide", answer.getBytes(StandardCharsets.UTF_8), Decision.class);
    assertEquals(Outcome.STEP_UP, d.outcome());
    assertEquals(Instant.parse("2026-12-06T22:14:27.123456789Z"), d.stepUp().expiresAt());
    assertEquals(0, new BigDecimal("1e21").compareTo(d.limit().dailyAmount()));
    assertNull(d.limit().maxAmount());
    assertNull(d.warning());
    assertTrue(d.fallback());
    assertEquals(415, d.tookMicros());
  }

  @Test
  void anUnknownOutcomeIsNoAnswer() {
    byte[] answer = "{\"decision_id\":\"x\",\"outcome\":\"maybe\",\"reasons\":[],\"message\":\"\"}"
        .getBytes(StandardCharsets.UTF_8);
    PdpTransportException e = assertThrows(PdpTransportException.class,
        () -> pdp.decode("/v1/decide", answer, Decision.class));
    assertTrue(e.getMessage().contains("/v1/decide"), e.getMessage());
  }

  @Test
  void errorAnswers() {
    PdpApiException e = pdp.apiError("/v1/decide", 400,
        "{\"error\":{\"code\":\"invalid_value\",\"message\":\"must not be negative\",\"field\":\"txn.amount\"}}"
            .getBytes(StandardCharsets.UTF_8));
    assertEquals(400, e.status());
    assertEquals("invalid_value", e.code());
    assertEquals("txn.amount", e.field());
    assertEquals("must not be negative", e.detail());

    PdpApiException noField = pdp.apiError("/health/ready", 503,
        "{\"error\":{\"code\":\"not_ready\",\"message\":\"no policy\"}}".getBytes(StandardCharsets.UTF_8));
    assertNull(noField.field());
    assertTrue(!noField.isClientError());

    PdpApiException html = pdp.apiError("/v1/decide", 502,
        "<html>bad gateway</html>".getBytes(StandardCharsets.UTF_8));
    assertEquals(PdpApiException.UNEXPECTED_RESPONSE, html.code());
    assertEquals(502, html.status());
    assertEquals("<html>bad gateway</html>", html.detail());
  }

  @Test
  void escape() {
    assertEquals("u%2F7%20%C3%A9%3F%23", PdpClient.escape("u/7 é?#"));
    assertEquals("u-1_a.b~", PdpClient.escape("u-1_a.b~"));
  }

  /**
   * The decoders' fuzz test: answers mutated at random (seeded, so a failure reproduces) decode to
   * a record or fail with a {@link PdpTransportException} (an error answer: a {@link
   * PdpApiException}), never with anything else.
   */
  @Test
  void mutatedAnswersFailOnlyAsNoAnswer() {
    List<Map.Entry<Class<?>, String>> seeds = List.of(
        Map.entry(Decision.class, "{\"decision_id\":\"01a2\",\"outcome\":\"allow\",\"reasons\":[\"a\"],"
            + "\"step_up\":{\"methods\":[\"face\"],\"challenge_id\":\"c\",\"expires_at\":\"2026-12-06T22:14:27Z\"},"
            + "\"warning\":{\"code\":\"anti_fraud\",\"message\":\"m\"},\"limit\":{\"max_amount\":5,"
            + "\"daily_amount\":6.5,\"currency\":\"CNY\",\"until\":\"2026-12-06T22:14:27Z\"},"
            + "\"message\":\"\",\"policy_revision\":\"sha256:5f\",\"took_us\":415}"),
        Map.entry(Verification.Status.class, "{\"status\":\"passed\",\"methods\":[\"face\"],\"passed\":[\"face\"]}"),
        Map.entry(AccountEvent.Recorded.class, "{\"recorded\":true,\"kind\":\"phone_change\",\"at\":\"2026-11-22T09:00:00Z\"}"),
        Map.entry(PaymentOutcome.Recorded.class, "{\"recorded\":true,\"uid\":\"u\",\"txn_id\":\"t\",\"status\":\"completed\","
            + "\"known\":true,\"outcomes\":[{\"status\":\"completed\",\"at\":\"2026-11-22T09:00:00Z\"}]}"),
        Map.entry(AccountStatus.class, "{\"uid\":\"u\",\"status\":\"frozen\",\"functions\":[\"login\"],"
            + "\"until\":\"2026-11-22T09:00:00Z\",\"message\":\"m\",\"can_appeal\":true,\"appeals\":[{\"appeal_id\":\"a\","
            + "\"status\":\"open\",\"lodged_at\":\"2026-11-22T09:00:00Z\",\"answer_due_at\":\"2026-11-24T09:00:00Z\"}]}"),
        Map.entry(Appeal.class, "{\"uid\":\"u\",\"appeal_id\":\"a\",\"status\":\"open\",\"lodged_at\":\"2026-11-22T09:00:00Z\","
            + "\"answer_due_at\":\"2026-11-24T09:00:00Z\"}"),
        Map.entry(Health.class, "{\"status\":\"ready\",\"degraded\":[\"redis\"]}"));
    byte[] alphabet = "{}[]\":,0123456789.eE+-truefalsnul \\u00ZT".getBytes(StandardCharsets.UTF_8);
    Random rnd = new Random(19);
    int decoded = 0;
    for (int i = 0; i < 4_000; i++) {
      Map.Entry<Class<?>, String> seed = seeds.get(i % seeds.size());
      byte[] b = seed.getValue().getBytes(StandardCharsets.UTF_8);
      for (int m = 1 + rnd.nextInt(4); m > 0 && b.length > 0; m--) {
        int at = rnd.nextInt(b.length);
        switch (rnd.nextInt(4)) {
          case 0 -> b[at] = alphabet[rnd.nextInt(alphabet.length)];
          case 1 -> b[at] = (byte) rnd.nextInt(256);
          case 2 -> b = java.util.Arrays.copyOf(b, at); // truncated
          default -> {
            byte[] c = new byte[b.length + 1];
            System.arraycopy(b, 0, c, 0, at);
            c[at] = alphabet[rnd.nextInt(alphabet.length)];
            System.arraycopy(b, at, c, at + 1, b.length - at);
            b = c;
          }
        }
      }
      try {
        assertNotNull(pdp.decode("/x", b, seed.getKey()));
        decoded++;
      } catch (PdpTransportException e) {
        // no usable answer: what the caller's fallback is for
      } catch (RuntimeException e) {
        fail("input " + new String(b, StandardCharsets.ISO_8859_1) + " as " + seed.getKey().getSimpleName(), e);
      }
      try {
        PdpApiException e = pdp.apiError("/x", 400, b);
        assertNotNull(e.code());
      } catch (RuntimeException e) {
        fail("error answer " + new String(b, StandardCharsets.ISO_8859_1), e);
      }
    }
    assertTrue(decoded > 200, "mutations that still decode: " + decoded);
  }
}
