package io.riskpdp.client;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import java.io.IOException;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.OffsetDateTime;

/** The client's JSON mapping: snake_case names on the records, RFC 3339 times, nulls omitted. */
final class Json {
  private Json() {}

  /**
   * A mapper for the API. Null fields are not sent (the API tells absent from false or zero);
   * answers may carry fields this client does not know (a newer sidecar), which are ignored; times
   * are RFC 3339 ({@link Instant}, written in UTC); amounts are written as plain numbers.
   */
  static ObjectMapper mapper() {
    SimpleModule times = new SimpleModule("riskpdp-times");
    times.addSerializer(Instant.class, new InstantSerializer());
    times.addDeserializer(Instant.class, new InstantDeserializer());
    return new ObjectMapper()
        .registerModule(times)
        .setSerializationInclusion(JsonInclude.Include.NON_NULL)
        .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
        .configure(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, false)
        .configure(JsonGenerator.Feature.WRITE_BIGDECIMAL_AS_PLAIN, true)
        .configure(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS, true);
  }

  /**
   * Runs mapper once over every type the client writes and reads, without a network: Jackson
   * introspects a type on its first use (about 150 ms for these in a fresh JVM), which would
   * otherwise fall on the first decision and its 100 ms timeout.
   */
  static void warm(ObjectMapper mapper) {
    try {
      mapper.writeValueAsBytes(
          DecideRequest.builder(Stage.PAYMENT, "u")
              .device(Device.builder().id("d").isNew(true).build())
              .txn(Txn.builder("t", java.math.BigDecimal.ONE, "CNY").build())
              .account(
                  new Account(
                      "CN",
                      Instant.EPOCH,
                      false,
                      java.util.List.of(new Account.AccountChange("device_bind", Instant.EPOCH))))
              .context(java.util.Map.of("k", true))
              .build());
      mapper.writeValueAsBytes(Verification.of("c", "face", Verification.Result.PASSED));
      mapper.writeValueAsBytes(AccountEvent.of("u", AccountEvent.Kind.LOGIN_FAILED));
      mapper.writeValueAsBytes(PaymentOutcome.of("u", "t", PaymentOutcome.Status.COMPLETED));
      mapper.writeValueAsBytes(Appeal.Request.of("u", "r"));
      String t = "\"1970-01-01T00:00:00Z\"";
      mapper.readValue(
          "{\"decision_id\":\"d\",\"outcome\":\"step_up\",\"reasons\":[\"r\"],"
              + "\"step_up\":{\"methods\":[\"face\"],\"challenge_id\":\"c\",\"expires_at\":" + t + "},"
              + "\"warning\":{\"code\":\"c\",\"message\":\"m\"},"
              + "\"limit\":{\"daily_amount\":1,\"currency\":\"CNY\",\"until\":" + t + "},"
              + "\"message\":\"\",\"policy_revision\":\"p\",\"took_us\":1}",
          Decision.class);
      mapper.readValue(
          "{\"status\":\"passed\",\"methods\":[],\"passed\":[]}", Verification.Status.class);
      mapper.readValue("{\"status\":\"ready\"}", Health.class);
    } catch (java.io.IOException e) {
      throw new IllegalStateException("pdp: the client's own JSON mapping is broken", e);
    }
  }

  private static final class InstantSerializer extends JsonSerializer<Instant> {
    @Override
    public void serialize(Instant value, JsonGenerator gen, SerializerProvider provider)
        throws IOException {
      gen.writeString(value.toString()); // ISO 8601 in UTC: 2026-12-06T22:14:27Z
    }
  }

  private static final class InstantDeserializer extends JsonDeserializer<Instant> {
    @Override
    public Instant deserialize(JsonParser p, DeserializationContext ctx) throws IOException {
      String s = p.getValueAsString();
      try {
        return OffsetDateTime.parse(s).toInstant();
      } catch (DateTimeException | NullPointerException e) {
        return (Instant) ctx.handleWeirdStringValue(Instant.class, s, "not an RFC 3339 time");
      }
    }
  }
}
