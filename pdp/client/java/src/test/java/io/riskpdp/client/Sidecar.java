package io.riskpdp.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * A live {@code pdp serve} for the tests: the binary named by the system property {@code pdp.bin}
 * (the Makefile passes the bin/pdp it built; default ../../../bin/pdp, the repository's), on free
 * loopback ports, with a risk state file in a temporary directory, its embedded policies (it runs
 * in that directory, which has no ./policies) and an operator API token. One sidecar serves every
 * test class of the run: JUnit closes it after the last one (SIGTERM, then a kill after 10 s).
 *
 * <p>Test classes get it with {@code @ExtendWith(Sidecar.Extension.class)} and a {@code Sidecar}
 * parameter.
 */
final class Sidecar implements ExtensionContext.Store.CloseableResource {
  static final String ADMIN_TOKEN = "java-client-test-token-0123456789";

  final String url;
  final String adminUrl;
  private final Process process;
  private final Path dir;
  private final Path log;

  private Sidecar() throws IOException, InterruptedException {
    Path bin = Path.of(System.getProperty("pdp.bin", "../../../bin/pdp")).toAbsolutePath();
    if (!Files.isExecutable(bin)) {
      throw new IllegalStateException(
          "no pdp binary at " + bin + ": run `make build` or pass -Dpdp.bin=/path/to/pdp");
    }
    dir = Files.createTempDirectory("pdp-java-client");
    Path tokens = dir.resolve("tokens");
    Files.writeString(tokens, ADMIN_TOKEN + " write java-test\n");
    Files.setPosixFilePermissions(tokens, PosixFilePermissions.fromString("rw-------"));
    log = dir.resolve("pdp.log");
    int port = freePort();
    int adminPort = freePort();
    url = "http://127.0.0.1:" + port;
    adminUrl = "http://127.0.0.1:" + adminPort;
    List<String> cmd = new ArrayList<>(List.of(bin.toString(), "serve",
        "--addr", "127.0.0.1:" + port,
        "--admin-addr", "127.0.0.1:" + adminPort,
        "--admin-token-file", tokens.toString(),
        "--state", dir.resolve("state.db").toString(),
        "--log-format", "text"));
    process = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(log.toFile()).start();
    awaitReady();
  }

  /** A free loopback port (closed again: the sidecar binds it next). */
  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private void awaitReady() throws IOException, InterruptedException {
    HttpClient hc = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
    Instant deadline = Instant.now().plusSeconds(60);
    while (true) {
      try {
        HttpResponse<Void> r = hc.send(
            HttpRequest.newBuilder(URI.create(url + "/health/ready")).timeout(Duration.ofSeconds(1)).build(),
            HttpResponse.BodyHandlers.discarding());
        if (r.statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      if (!process.isAlive()) {
        throw new IllegalStateException("pdp exited with " + process.exitValue() + ":\n" + logs());
      }
      if (Instant.now().isAfter(deadline)) {
        close();
        throw new IllegalStateException("pdp not ready within 60 s:\n" + logs());
      }
      Thread.sleep(50);
    }
  }

  /** What the sidecar printed so far. */
  String logs() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** A POST to the operator API with the test's write token; the answer's status. */
  int admin(String path, String json) throws IOException, InterruptedException {
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create(adminUrl + path))
            .header("Authorization", "Bearer " + ADMIN_TOKEN)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() / 100 != 2) {
      throw new IllegalStateException("admin " + path + ": " + r.statusCode() + " " + r.body());
    }
    return r.statusCode();
  }

  /** The value of an unlabelled Prometheus sample of the sidecar's /metrics, 0 when absent. */
  double metric(String name) throws IOException, InterruptedException {
    String body = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create(url + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    return body.lines().filter(l -> l.startsWith(name + " ")).findFirst()
        .map(l -> Double.parseDouble(l.substring(name.length() + 1).trim())).orElse(0.0);
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // a temporary directory left behind
    }
  }

  /** Resolves a {@link Sidecar} parameter: the run's one sidecar, started on first use. */
  static final class Extension implements ParameterResolver {
    @Override
    public boolean supportsParameter(ParameterContext p, ExtensionContext c) {
      return p.getParameter().getType() == Sidecar.class;
    }

    @Override
    public Object resolveParameter(ParameterContext p, ExtensionContext c) {
      return c.getRoot()
          .getStore(ExtensionContext.Namespace.GLOBAL)
          .getOrComputeIfAbsent(
              Sidecar.class,
              k -> {
                try {
                  return new Sidecar();
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                  throw new IllegalStateException(e);
                }
              },
              Sidecar.class);
    }
  }
}
