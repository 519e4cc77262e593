package io.riskpdp.client;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;
import java.util.List;

/**
 * An appeal as the app may show it.
 *
 * @param uid the account (in the answer to a lodged appeal; null in an account status's list)
 * @param appealId the appeal's id
 * @param status {@code open}, {@code granted} or {@code rejected}
 * @param lodgedAt when it was lodged
 * @param answerDueAt when the answer is due
 * @param answeredAt when it was answered, or null
 * @param answer the operator's answer to the user, or null
 */
public record Appeal(
    @JsonProperty("uid") String uid,
    @JsonProperty("appeal_id") String appealId,
    @JsonProperty("status") String status,
    @JsonProperty("lodged_at") Instant lodgedAt,
    @JsonProperty("answer_due_at") Instant answerDueAt,
    @JsonProperty("answered_at") Instant answeredAt,
    @JsonProperty("answer") String answer) {

  /**
   * A user's appeal of a freeze, restriction, limit or probation, lodged with {@code POST
   * /v1/appeals}: the user's words and references to documents the service keeps, never documents
   * or identity numbers. Idempotent per request id: the client sets a random one when it is null,
   * and retries after a transport failure with the same one, so an appeal is never lodged twice.
   *
   * @param uid the account
   * @param reason the user's words (1 to 2000 characters)
   * @param documents at most 10 references (ids of 1 to 128 visible ASCII bytes)
   * @param requestId the idempotency key (at most 128 visible ASCII bytes)
   */
  public record Request(
      @JsonProperty("uid") String uid,
      @JsonProperty("reason") String reason,
      @JsonProperty("documents") List<String> documents,
      @JsonProperty("request_id") String requestId) {

    /** An appeal of uid in the user's words, without documents. */
    public static Request of(String uid, String reason) {
      return new Request(uid, reason, null, null);
    }

    /** The same appeal with requestId. */
    public Request withRequestId(String requestId) {
      return new Request(uid, reason, documents, requestId);
    }
  }
}
