package io.riskpdp.client;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;

/**
 * The sidecar's answer to a decide request.
 *
 * @param decisionId unique, time-ordered (UUIDv7)
 * @param requestId the caller's request id, when sent
 * @param outcome allow, step_up or deny
 * @param reasons internal reason codes: for the service and its logs, never for the user
 * @param stepUp how to verify before deciding again, when the outcome is step_up
 * @param message text safe to show the end user (may be empty)
 * @param warning a notice to show the user, when the policy warns
 * @param limit a cap that comes with a conditional release
 * @param fallback true when an internal fault of the sidecar produced the outcome (reason {@code
 *     pdp_error}); never allow
 * @param policyRevision the policy set that decided
 * @param tookMicros time spent in the sidecar, microseconds
 */
public record Decision(
    @JsonProperty("decision_id") String decisionId,
    @JsonProperty("request_id") String requestId,
    @JsonProperty("outcome") Outcome outcome,
    @JsonProperty("reasons") List<String> reasons,
    @JsonProperty("step_up") StepUp stepUp,
    @JsonProperty("message") String message,
    @JsonProperty("warning") Warning warning,
    @JsonProperty("limit") Limit limit,
    @JsonProperty("fallback") boolean fallback,
    @JsonProperty("policy_revision") String policyRevision,
    @JsonProperty("took_us") long tookMicros) {

  public Decision {
    reasons = reasons == null ? List.of() : List.copyOf(reasons);
    message = message == null ? "" : message;
  }

  /** Whether the outcome is allow. */
  public boolean isAllow() {
    return outcome == Outcome.ALLOW;
  }

  /** Whether the outcome is step_up. */
  public boolean isStepUp() {
    return outcome == Outcome.STEP_UP;
  }

  /** Whether the outcome is deny. */
  public boolean isDeny() {
    return outcome == Outcome.DENY;
  }

  /**
   * The verification a step_up asks for.
   *
   * @param methods the methods to pass ({@code face}, {@code sms}, ...): each one, then decide
   *     again
   * @param challengeId the signed challenge to report results against and to send with the retry
   * @param expiresAt when the challenge expires
   */
  public record StepUp(
      @JsonProperty("methods") List<String> methods,
      @JsonProperty("challenge_id") String challengeId,
      @JsonProperty("expires_at") Instant expiresAt) {
    public StepUp {
      methods = methods == null ? List.of() : List.copyOf(methods);
    }
  }

  /**
   * A notice to show the user.
   *
   * @param code {@code anti_fraud} in the reference policy
   * @param message the text to show
   */
  public record Warning(@JsonProperty("code") String code, @JsonProperty("message") String message) {}

  /**
   * A cap on a conditional release; it always covers the operation it comes with.
   *
   * @param maxAmount the largest single amount, or null
   * @param dailyAmount the day's cap, or null
   * @param currency the caps' currency
   * @param until when the cap ends, or null
   */
  public record Limit(
      @JsonProperty("max_amount") BigDecimal maxAmount,
      @JsonProperty("daily_amount") BigDecimal dailyAmount,
      @JsonProperty("currency") String currency,
      @JsonProperty("until") Instant until) {}
}
