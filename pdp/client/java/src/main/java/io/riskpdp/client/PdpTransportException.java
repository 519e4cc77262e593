package io.riskpdp.client;

/**
 * No usable answer from the sidecar: it could not be reached, the connection broke, the answer
 * could not be decoded (an outcome this client does not know included), or it did not answer in
 * time ({@link PdpTimeoutException}). For a decision, apply {@link PdpClient#FALLBACK}.
 */
public sealed class PdpTransportException extends PdpException permits PdpTimeoutException {
  private static final long serialVersionUID = 1L;

  /** Whether the attempt may be repeated: not for an answer that came but cannot be decoded. */
  final transient boolean retryable;

  PdpTransportException(String message, Throwable cause) {
    this(message, cause, true);
  }

  PdpTransportException(String message, Throwable cause, boolean retryable) {
    super(message, cause);
    this.retryable = retryable;
  }
}
