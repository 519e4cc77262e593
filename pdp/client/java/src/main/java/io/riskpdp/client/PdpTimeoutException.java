package io.riskpdp.client;

import java.time.Duration;

/** The sidecar did not answer within the call's timeout. */
public final class PdpTimeoutException extends PdpTransportException {
  private static final long serialVersionUID = 1L;

  private final transient Duration timeout;

  PdpTimeoutException(String path, Duration timeout, Throwable cause) {
    super("pdp: " + path + ": no answer within " + timeout.toMillis() + " ms", cause);
    this.timeout = timeout;
  }

  /** The timeout that ran out. */
  public Duration timeout() {
    return timeout;
  }
}
