package io.riskpdp.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What the client does with its connections, against a live {@code pdp serve} behind a counting
 * TCP proxy: keep-alive, timeouts, and retries only where the API makes a call idempotent.
 */
@ExtendWith(Sidecar.Extension.class)
class TransportTest {
  private static PdpClient.Builder client(String url) {
    return PdpClient.builder(url).timeout(Duration.ofSeconds(5));
  }

  @Test
  void sequentialCallsReuseOneConnection(Sidecar sidecar) throws Exception {
    try (TcpProxy proxy = new TcpProxy(sidecar.url, TcpProxy.Mode.FORWARD, 0)) {
      PdpClient pdp = client(proxy.url()).build();
      String uid = "u-keepalive-" + UUID.randomUUID();
      for (int i = 0; i < 30; i++) {
        pdp.decide(DecisionApiTest.everyday(uid, "t-" + i));
      }
      pdp.accountStatus(uid, null);
      pdp.reportEvent(AccountEvent.of(uid, AccountEvent.Kind.PROFILE_CHANGE));
      pdp.ready();
      // An error answer keeps the connection too.
      assertThrows(PdpApiException.class, () -> pdp.verify("c2.forged", "face", Verification.Result.PASSED));
      pdp.live();
      assertEquals(1, proxy.accepted(), "35 calls, connections accepted");
    }
  }

  @Test
  void concurrentCallsOpenAtMostOneConnectionEach(Sidecar sidecar) throws Exception {
    int threads = 4;
    try (TcpProxy proxy = new TcpProxy(sidecar.url, TcpProxy.Mode.FORWARD, 0)) {
      PdpClient pdp = client(proxy.url()).build();
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      try {
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          String uid = "u-concurrent-" + t + "-" + UUID.randomUUID();
          done.add(pool.submit(() -> {
            for (int i = 0; i < 25; i++) {
              pdp.decide(DecisionApiTest.everyday(uid, "t-" + i));
            }
          }));
        }
        for (Future<?> f : done) {
          f.get();
        }
      } finally {
        pool.shutdownNow();
      }
      int n = proxy.accepted();
      assertTrue(n >= 1 && n <= threads, "100 calls on " + threads + " threads: " + n + " connections");
    }
  }

  @Test
  void aConnectionTheSidecarClosedIsReplaced(Sidecar sidecar) throws Exception {
    try (TcpProxy proxy = new TcpProxy(sidecar.url, TcpProxy.Mode.FORWARD, 0)) {
      PdpClient pdp = client(proxy.url()).maxRetries(0).build();
      String uid = "u-idle-" + UUID.randomUUID();
      pdp.decide(DecisionApiTest.everyday(uid, "t-1"));
      proxy.dropConnections(); // the sidecar's idle timeout
      Thread.sleep(1000); // idle: the client's pool sees the close
      // decide is never retried: it must not be sent on the closed connection.
      assertEquals(Outcome.ALLOW, pdp.decide(DecisionApiTest.everyday(uid, "t-2")).outcome());
      assertEquals(2, proxy.accepted());
    }
  }

  @Test
  void aTimeoutIsATimeout() throws Exception {
    try (TcpProxy silent = TcpProxy.silent()) {
      Duration timeout = Duration.ofMillis(200);
      PdpClient pdp = PdpClient.builder(silent.url()).timeout(timeout).durableTimeout(timeout)
          .maxRetries(1).build();
      PdpTimeoutException e = assertThrows(PdpTimeoutException.class,
          () -> pdp.decide(DecisionApiTest.everyday("u-timeout", "t-1")));
      assertEquals(timeout, e.timeout());
      assertEquals(1, silent.accepted(), "decide is not retried");

      // An idempotent call is retried once, on a new connection.
      assertThrows(PdpTimeoutException.class, () -> pdp.accountStatus("u-timeout", null));
      assertEquals(3, silent.accepted(), "the account status: one try and one retry");
    }
  }

  @Test
  void warmUpSaysWhetherTheSidecarIsReady(Sidecar sidecar) throws Exception {
    try (TcpProxy proxy = new TcpProxy(sidecar.url, TcpProxy.Mode.FORWARD, 0)) {
      PdpClient pdp = client(proxy.url()).build();
      assertTrue(pdp.warmUp());
      pdp.decide(DecisionApiTest.everyday("u-warm-" + UUID.randomUUID(), "t-1"));
      assertEquals(1, proxy.accepted(), "the decision uses the connection warmUp opened");
    }
    assertFalse(PdpClient.builder("127.0.0.1:" + Sidecar.freePort()).build().warmUp());
  }

  @Test
  void noSidecarIsATransportFailure() throws Exception {
    int port = Sidecar.freePort(); // nothing listens there
    PdpClient pdp = PdpClient.builder("127.0.0.1:" + port).maxRetries(0).build();
    PdpTransportException e = assertThrows(PdpTransportException.class,
        () -> pdp.decide(DecisionApiTest.everyday("u-none", "t-1")));
    assertTrue(!(e instanceof PdpTimeoutException), e.toString());
    assertInstanceOf(java.io.IOException.class, e.getCause());
  }

  @Test
  void aBrokenConnectionIsRetriedOnlyWhenIdempotent(Sidecar sidecar) throws Exception {
    String uid = "u-broken-" + UUID.randomUUID();
    PdpClient direct = client(sidecar.url).build();
    String txn = "t-" + UUID.randomUUID();
    assertEquals(Outcome.ALLOW, direct.decide(DecisionApiTest.everyday(uid, txn)).outcome());

    // The first connection closes without an answer: idempotent calls go through on a second
    // (the account status's GET: the JDK's own retry; the POSTs: the client's).
    try (TcpProxy proxy = new TcpProxy(sidecar.url, TcpProxy.Mode.FORWARD, 1)) {
      PdpClient pdp = client(proxy.url()).build();
      assertEquals("ok", pdp.accountStatus(uid, null).status());
      assertEquals(2, proxy.accepted());
    }
    try (TcpProxy proxy = new TcpProxy(sidecar.url, TcpProxy.Mode.FORWARD, 1)) {
      PdpClient pdp = client(proxy.url()).build();
      assertTrue(pdp.reportOutcome(PaymentOutcome.of(uid, txn, PaymentOutcome.Status.COMPLETED)).recorded());
      assertEquals(2, proxy.accepted());
    }
    try (TcpProxy proxy = new TcpProxy(sidecar.url, TcpProxy.Mode.FORWARD, 1)) {
      PdpClient pdp = client(proxy.url()).build();
      Decision d = direct.decide(DecisionApiTest.payment("u-broken-v-" + UUID.randomUUID(), "t-v"));
      assertEquals("passed", pdp.verify(d.stepUp().challengeId(), d.stepUp().methods().get(0),
          Verification.Result.PASSED).status());
      assertEquals(2, proxy.accepted());
    }

    // decide and events are not: the failure is the caller's (apply the fallback).
    try (TcpProxy proxy = new TcpProxy(sidecar.url, TcpProxy.Mode.FORWARD, 1)) {
      PdpClient pdp = client(proxy.url()).maxRetries(3).build();
      assertThrows(PdpTransportException.class, () -> pdp.decide(DecisionApiTest.everyday(uid, "t-x")));
      assertEquals(1, proxy.accepted());
    }
    try (TcpProxy proxy = new TcpProxy(sidecar.url, TcpProxy.Mode.FORWARD, 1)) {
      PdpClient pdp = client(proxy.url()).maxRetries(3).build();
      assertThrows(PdpTransportException.class,
          () -> pdp.reportEvent(AccountEvent.of(uid, AccountEvent.Kind.LOGIN_FAILED)));
      assertEquals(1, proxy.accepted());
    }
    // With no retries configured, the client repeats nothing. (The JDK's HTTP client itself
    // repeats a GET once whose connection closed before any answer, so a POST shows it.)
    try (TcpProxy proxy = new TcpProxy(sidecar.url, TcpProxy.Mode.FORWARD, 1)) {
      PdpClient pdp = client(proxy.url()).maxRetries(0).build();
      assertThrows(PdpTransportException.class,
          () -> pdp.reportOutcome(PaymentOutcome.of(uid, txn, PaymentOutcome.Status.COMPLETED)));
      assertEquals(1, proxy.accepted());
    }
  }
}
