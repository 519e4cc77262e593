package io.riskpdp.client;

/**
 * A call to the sidecar that gave no answer to use: either the sidecar answered with an error
 * ({@link PdpApiException}) or no usable answer came ({@link PdpTransportException}). For a
 * decision, apply {@link PdpClient#FALLBACK} in both cases: never allow.
 */
public abstract sealed class PdpException extends RuntimeException
    permits PdpApiException, PdpTransportException {
  private static final long serialVersionUID = 1L;

  PdpException(String message, Throwable cause) {
    super(message, cause);
  }
}
