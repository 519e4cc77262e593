package io.riskpdp.client;

/**
 * An error answer of the sidecar: {@code {"error": {"code", "message", "field"}}} with its HTTP
 * status (README "Errors"). A 4xx means the request is at fault (fix it: {@link #field()} names the
 * field as a JSON path, such as {@code txn.amount}); a 5xx that the sidecar could not serve it
 * ({@code not_ready}, {@code unavailable}, {@code internal}).
 */
public final class PdpApiException extends PdpException {
  private static final long serialVersionUID = 1L;

  /** The code of an error answer whose body is not the API's error envelope. */
  public static final String UNEXPECTED_RESPONSE = "unexpected_response";

  private final int status;
  private final String code;
  private final String field;
  private final String detail;

  PdpApiException(String path, int status, String code, String detail, String field) {
    super(describe(path, status, code, detail, field), null);
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.field = field;
  }

  private static String describe(
      String path, int status, String code, String detail, String field) {
    return "pdp: "
        + path
        + ": "
        + status
        + " "
        + code
        + (field != null ? ": " + field : "")
        + ": "
        + detail;
  }

  /** The HTTP status (400, 404, 409, 503, ...). */
  public int status() {
    return status;
  }

  /**
   * The API's error code ({@code invalid_value}, {@code not_found}, {@code conflict}, {@code
   * nothing_to_appeal}, ...), or {@link #UNEXPECTED_RESPONSE}.
   */
  public String code() {
    return code;
  }

  /** The offending field as a JSON path ({@code txn.amount}, {@code documents[0]}), or null. */
  public String field() {
    return field;
  }

  /** The API's message: safe to show to the caller, never a card or identity number. */
  public String detail() {
    return detail;
  }

  /** Whether the request is at fault (a 4xx). */
  public boolean isClientError() {
    return status >= 400 && status < 500;
  }
}
