package io.riskpdp.client;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.List;

/**
 * The result of one step-up method, reported with {@code POST /v1/verifications}. Reporting the
 * same result again changes nothing (a failed or refused method stays failed), so the client
 * retries it after a transport failure.
 *
 * @param challengeId the challenge of the step_up decision
 * @param method one of the challenge's methods
 * @param result what the user's check gave
 * @param uid when set, must be the challenge's account
 */
public record Verification(
    @JsonProperty("challenge_id") String challengeId,
    @JsonProperty("method") String method,
    @JsonProperty("result") Result result,
    @JsonProperty("uid") String uid) {

  /** A result for challengeId's method. */
  public static Verification of(String challengeId, String method, Result result) {
    return new Verification(challengeId, method, result, null);
  }

  /** A method's result. */
  public enum Result {
    PASSED("passed"),
    FAILED("failed"),
    REFUSED("refused");

    private final String wire;

    Result(String wire) {
      this.wire = wire;
    }

    @JsonValue
    public String wire() {
      return wire;
    }
  }

  /**
   * The operation's verification as stored after a result.
   *
   * @param status {@code pending}, {@code passed} (every method passed: decide again), {@code
   *     failed} or {@code refused}
   * @param methods the methods asked for
   * @param passed the methods passed so far
   */
  public record Status(
      @JsonProperty("status") String status,
      @JsonProperty("methods") List<String> methods,
      @JsonProperty("passed") List<String> passed) {
    public Status {
      methods = methods == null ? List.of() : List.copyOf(methods);
      passed = passed == null ? List.of() : List.copyOf(passed);
    }

    /** Whether every method passed. */
    public boolean isPassed() {
      return "passed".equals(status);
    }
  }
}
