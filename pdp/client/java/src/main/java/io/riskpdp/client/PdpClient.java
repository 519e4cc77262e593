package io.riskpdp.client;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.Executor;

/**
 * A client of one riskpdp sidecar's decision API. It is safe for concurrent use: build one per
 * sidecar and share it (a Spring singleton bean).
 *
 * <p>It keeps its HTTP/1.1 connections to the sidecar open between calls (keep-alive: one
 * connection per concurrent call, reused), bounds every call with a timeout, and throws a {@link
 * PdpApiException} for an error answer (the API's status, code, field and message) and a {@link
 * PdpTransportException} for no usable answer ({@link PdpTimeoutException} when in time).
 *
 * <p>Retries: the calls the API makes idempotent are repeated after a transport failure or a
 * {@code 503 not_ready} (a sidecar starting), at most {@link Builder#maxRetries(int)} times: {@link
 * #verify}, {@link #reportOutcome}, {@link #appeal} (with its request id, set when absent), {@link
 * #accountStatus}, {@link #live} and {@link #ready}. {@link #decide} and {@link #reportEvent} never
 * are: every decide counts in the account's velocity (a repeat would count the attempt twice and
 * the sidecar already answered within the timeout or is in trouble), and every event counts too.
 * When decide fails, apply {@link #FALLBACK}.
 */
public final class PdpClient {
  /** The outcome to apply when the sidecar cannot answer: verify first, release after. */
  public static final Outcome FALLBACK = Outcome.STEP_UP;

  /**
   * The default timeout of a decision and of the health calls: 100 ms. The sidecar decides in
   * microseconds (hundreds with a cold cache), so an answer that takes this long means it is in
   * trouble, and the payment should not wait for it.
   */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMillis(100);

  /**
   * The default timeout of the calls the sidecar writes to disk before it answers (verifications,
   * events, outcomes, appeals) and of the account status: 2 s, room for an fsync on a busy disk.
   */
  public static final Duration DEFAULT_DURABLE_TIMEOUT = Duration.ofSeconds(2);

  /** The default number of retries of an idempotent call: 1. */
  public static final int DEFAULT_MAX_RETRIES = 1;

  private static final String JSON = "application/json";

  private final HttpClient http;
  private final String base;
  private final Duration timeout;
  private final Duration durableTimeout;
  private final int maxRetries;
  private final Duration retryBackoff;
  private final ObjectMapper json = Json.mapper();

  private PdpClient(Builder b) {
    HttpClient.Builder hb =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(b.connectTimeout);
    if (b.executor != null) {
      hb.executor(b.executor);
    }
    this.http = hb.build();
    this.base = b.base;
    this.timeout = b.timeout;
    this.durableTimeout = b.durableTimeout;
    this.maxRetries = b.maxRetries;
    this.retryBackoff = b.retryBackoff;
    Json.warm(json);
  }

  /**
   * A builder of a client for the sidecar at baseUrl: {@code http://127.0.0.1:9191} (a bare {@code
   * 127.0.0.1:9191} means the same). The sidecar answers only to loopback host names and to those
   * of its {@code server.allowed_hosts}.
   */
  public static Builder builder(String baseUrl) {
    return new Builder(baseUrl);
  }

  /** A client for the sidecar at baseUrl with the default timeouts and retries. */
  public static PdpClient create(String baseUrl) {
    return builder(baseUrl).build();
  }

  /**
   * Opens a connection to the sidecar and asks whether it is ready ({@code GET /health/ready},
   * within the durable timeout), so the first decision does not pay for the JVM's first HTTP
   * exchange (class loading, the HTTP client's selector thread, the connection: hundreds of
   * milliseconds in a fresh JVM, past the decision's timeout). Call it once at startup; it never
   * throws.
   *
   * @return whether the sidecar answered that it is ready
   */
  public boolean warmUp() {
    try {
      call("GET", "/health/ready", null, Health.class, durableTimeout, true);
      return true;
    } catch (PdpException e) {
      return false;
    }
  }

  /**
   * Asks for a decision ({@code POST /v1/decide}), within the client's timeout; never retried.
   *
   * @throws PdpApiException the request was refused (a 4xx names the field: fix the request) or
   *     the sidecar could not serve it (5xx): apply {@link #FALLBACK}
   * @throws PdpTransportException no usable answer in time: apply {@link #FALLBACK}
   */
  public Decision decide(DecideRequest request) {
    return call("POST", "/v1/decide", request, Decision.class, timeout, false);
  }

  /**
   * Reports one step-up method's result ({@code POST /v1/verifications}) and returns the
   * operation's verification after it; once every method passed, decide the same operation again
   * with {@link DecideRequest#withChallenge(String)}. Retried (the same result again changes
   * nothing).
   *
   * @throws PdpApiException 404 {@code not_found} (unknown challenge), 409 {@code conflict}
   *     (expired), 403 {@code forbidden} (another account's), 400 (a method not asked for), ...
   */
  public Verification.Status verify(Verification verification) {
    return call(
        "POST",
        "/v1/verifications",
        verification,
        Verification.Status.class,
        durableTimeout,
        true);
  }

  /** Reports method's result for challengeId: {@link #verify(Verification)}. */
  public Verification.Status verify(
      String challengeId, String method, Verification.Result result) {
    return verify(Verification.of(challengeId, method, result));
  }

  /** Reports an account event ({@code POST /v1/events}); never retried (events are counted). */
  public AccountEvent.Recorded reportEvent(AccountEvent event) {
    return call("POST", "/v1/events", event, AccountEvent.Recorded.class, durableTimeout, false);
  }

  /**
   * Reports what became of an allowed money movement ({@code POST /v1/outcomes}). Retried
   * (idempotent per txn id and status).
   *
   * @throws PdpApiException 404 {@code not_found} (a payment the sidecar does not keep), 409
   *     {@code conflict} (failed after completed, or the reverse), ...
   */
  public PaymentOutcome.Recorded reportOutcome(PaymentOutcome outcome) {
    return call(
        "POST", "/v1/outcomes", outcome, PaymentOutcome.Recorded.class, durableTimeout, true);
  }

  /**
   * Lodges a user's appeal ({@code POST /v1/appeals}). A request without a request id gets a
   * random one, so the retry after a transport failure answers the appeal the first try lodged
   * instead of lodging another.
   *
   * @throws PdpApiException 409 {@code nothing_to_appeal} or {@code too_many_appeals}; 400 names
   *     the field ({@code reason}, {@code documents[0]})
   */
  public Appeal appeal(Appeal.Request request) {
    Appeal.Request r =
        request.requestId() == null
            ? request.withRequestId("java-" + UUID.randomUUID())
            : request;
    return call("POST", "/v1/appeals", r, Appeal.class, durableTimeout, true);
  }

  /**
   * Reads what the app may show of uid's account ({@code GET /v1/accounts/{uid}/status}); locale
   * (null for the sidecar's {@code messages.locale}) chooses the message's language. Retried.
   */
  public AccountStatus accountStatus(String uid, String locale) {
    Objects.requireNonNull(uid, "uid");
    String path = "/v1/accounts/" + escape(uid) + "/status";
    if (locale != null) {
      path += "?locale=" + escape(locale);
    }
    return call("GET", path, null, AccountStatus.class, durableTimeout, true);
  }

  /** {@code GET /health/live}: the process is up. Retried. */
  public Health live() {
    return call("GET", "/health/live", null, Health.class, timeout, true);
  }

  /**
   * {@code GET /health/ready}: a policy is loaded; {@link Health#degraded()} names what works in a
   * reduced way. Retried.
   *
   * @throws PdpApiException 503 {@code not_ready} while the sidecar is not ready
   */
  public Health ready() {
    return call("GET", "/health/ready", null, Health.class, timeout, true);
  }

  private <T> T call(
      String method,
      String path,
      Object body,
      Class<T> type,
      Duration callTimeout,
      boolean idempotent) {
    byte[] payload = null;
    if (body != null) {
      try {
        payload = json.writeValueAsBytes(body);
      } catch (JsonProcessingException e) {
        throw new IllegalArgumentException("pdp: encode " + path + " request: " + e, e);
      }
    }
    int attempts = idempotent ? maxRetries + 1 : 1;
    for (int attempt = 1; ; attempt++) {
      try {
        return once(method, path, payload, type, callTimeout);
      } catch (PdpTransportException | PdpApiException e) {
        if (attempt >= attempts || !retryable(e)) {
          throw e;
        }
        try {
          Thread.sleep(retryBackoff.multipliedBy(1L << Math.min(attempt - 1, 6)).toMillis());
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
  }

  /** A transport failure (a timeout included) or a sidecar still starting. */
  private static boolean retryable(PdpException e) {
    if (e instanceof PdpApiException api) {
      return api.status() == 503 && "not_ready".equals(api.code());
    }
    return ((PdpTransportException) e).retryable;
  }

  private <T> T once(
      String method, String path, byte[] payload, Class<T> type, Duration callTimeout) {
    HttpRequest.Builder rb =
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(callTimeout)
            .header("Accept", JSON);
    if (payload != null) {
      rb.header("Content-Type", JSON).method(method, HttpRequest.BodyPublishers.ofByteArray(payload));
    } else {
      rb.method(method, HttpRequest.BodyPublishers.noBody());
    }
    HttpResponse<byte[]> resp;
    try {
      resp = http.send(rb.build(), HttpResponse.BodyHandlers.ofByteArray());
    } catch (HttpTimeoutException e) {
      throw new PdpTimeoutException(path, callTimeout, e);
    } catch (IOException e) {
      throw new PdpTransportException("pdp: " + path + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new PdpTransportException("pdp: " + path + ": interrupted", e, false);
    }
    int status = resp.statusCode();
    byte[] answer = resp.body();
    if (status < 200 || status > 299) {
      throw apiError(path, status, answer);
    }
    return decode(path, answer, type);
  }

  /** The 2xx answer to path decoded as type; {@link PdpTransportException} when it cannot be. */
  <T> T decode(String path, byte[] answer, Class<T> type) {
    T out;
    try {
      out = json.readValue(answer, type);
    } catch (IOException | RuntimeException e) {
      throw new PdpTransportException(
          "pdp: decode " + path + " answer: " + e.getMessage(), e, false);
    }
    if (out == null) {
      throw new PdpTransportException("pdp: decode " + path + " answer: null", null, false);
    }
    return out;
  }

  /** The error answer to path with status. */
  PdpApiException apiError(String path, int status, byte[] answer) {
    try {
      JsonNode err = json.readTree(answer).path("error");
      if (err.path("code").isTextual() && !err.path("code").asText().isEmpty()) {
        JsonNode field = err.path("field");
        return new PdpApiException(
            path,
            status,
            err.path("code").asText(),
            err.path("message").asText(""),
            field.isTextual() ? field.asText() : null);
      }
    } catch (IOException | RuntimeException e) {
      // not the API's envelope: reported as it came, below
    }
    String text = new String(answer, StandardCharsets.UTF_8);
    if (text.length() > 512) {
      text = text.substring(0, 512) + "…";
    }
    return new PdpApiException(path, status, PdpApiException.UNEXPECTED_RESPONSE, text, null);
  }

  /** Percent-encodes s as one path segment or query value (RFC 3986 unreserved kept). */
  static String escape(String s) {
    StringBuilder b = new StringBuilder(s.length() + 8);
    for (byte c : s.getBytes(StandardCharsets.UTF_8)) {
      if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || c == '-'
          || c == '.'
          || c == '_'
          || c == '~') {
        b.append((char) c);
      } else {
        b.append('%').append(Character.toUpperCase(Character.forDigit((c >> 4) & 0xF, 16)));
        b.append(Character.toUpperCase(Character.forDigit(c & 0xF, 16)));
      }
    }
    return b.toString();
  }

  /** Builds a {@link PdpClient}. */
  public static final class Builder {
    private final String base;
    private Duration timeout = DEFAULT_TIMEOUT;
    private Duration durableTimeout = DEFAULT_DURABLE_TIMEOUT;
    private Duration connectTimeout = DEFAULT_DURABLE_TIMEOUT;
    private int maxRetries = DEFAULT_MAX_RETRIES;
    private Duration retryBackoff = Duration.ofMillis(10);
    private Executor executor;

    private Builder(String baseUrl) {
      String b = Objects.requireNonNull(baseUrl, "baseUrl").strip();
      if (!b.contains("://")) {
        b = "http://" + b;
      }
      while (b.endsWith("/")) {
        b = b.substring(0, b.length() - 1);
      }
      URI u = URI.create(b);
      if (u.getHost() == null || !("http".equals(u.getScheme()) || "https".equals(u.getScheme()))) {
        throw new IllegalArgumentException("pdp: not an http URL of a sidecar: " + baseUrl);
      }
      this.base = b;
    }

    /**
     * The timeout of a decision and of the health calls (default {@link #DEFAULT_TIMEOUT}); it
     * covers connecting, sending and the whole answer.
     */
    public Builder timeout(Duration timeout) {
      this.timeout = positive(timeout, "timeout");
      return this;
    }

    /**
     * The timeout of the calls the sidecar writes durably before it answers, and of the account
     * status (default {@link #DEFAULT_DURABLE_TIMEOUT}).
     */
    public Builder durableTimeout(Duration durableTimeout) {
      this.durableTimeout = positive(durableTimeout, "durableTimeout");
      return this;
    }

    /**
     * The most a new connection may take to open (default 2 s); each call's own timeout bounds it
     * too.
     */
    public Builder connectTimeout(Duration connectTimeout) {
      this.connectTimeout = positive(connectTimeout, "connectTimeout");
      return this;
    }

    /**
     * How often an idempotent call is repeated after a transport failure or {@code 503 not_ready}
     * (default {@link #DEFAULT_MAX_RETRIES}; 0 for never). Decide and events are never repeated.
     */
    public Builder maxRetries(int maxRetries) {
      if (maxRetries < 0) {
        throw new IllegalArgumentException("pdp: maxRetries < 0");
      }
      this.maxRetries = maxRetries;
      return this;
    }

    /** The pause before the first retry, doubled before each next one (default 10 ms). */
    public Builder retryBackoff(Duration retryBackoff) {
      if (retryBackoff == null || retryBackoff.isNegative()) {
        throw new IllegalArgumentException("pdp: retryBackoff must be >= 0");
      }
      this.retryBackoff = retryBackoff;
      return this;
    }

    /** The executor of the HTTP client's asynchronous work (default: the JDK's own). */
    public Builder executor(Executor executor) {
      this.executor = executor;
      return this;
    }

    public PdpClient build() {
      return new PdpClient(this);
    }

    private static Duration positive(Duration d, String name) {
      if (d == null || d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("pdp: " + name + " must be > 0");
      }
      return d;
    }
  }
}
