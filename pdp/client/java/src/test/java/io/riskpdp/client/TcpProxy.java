package io.riskpdp.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy on a loopback port in front of the sidecar, for what the client does with its
 * connections: it counts the connections it accepts, and can close the first few without a byte
 * (a connection that breaks), or never answer at all (a sidecar that hangs).
 */
final class TcpProxy implements AutoCloseable {
  enum Mode {
    FORWARD,
    /** Accept, read what comes, never answer, keep the connection open. */
    SILENT
  }

  private final ServerSocket server;
  private final String targetHost;
  private final int targetPort;
  private final Mode mode;
  private final AtomicInteger accepted = new AtomicInteger();
  private final AtomicInteger toDrop;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();

  /** A proxy to the sidecar at url ("http://127.0.0.1:PORT") that closes the first drop connections. */
  TcpProxy(String url, Mode mode, int drop) throws IOException {
    java.net.URI u = java.net.URI.create(url);
    this.targetHost = u.getHost();
    this.targetPort = u.getPort();
    this.mode = mode;
    this.toDrop = new AtomicInteger(drop);
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(this::acceptLoop, "tcp-proxy-accept");
    t.setDaemon(true);
    t.start();
  }

  /** A proxy that never answers. */
  static TcpProxy silent() throws IOException {
    return new TcpProxy("http://127.0.0.1:1", Mode.SILENT, 0);
  }

  /** The proxy's URL, for the client. */
  String url() {
    return "http://127.0.0.1:" + server.getLocalPort();
  }

  /** How many connections it accepted. */
  int accepted() {
    return accepted.get();
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      Socket in;
      try {
        in = server.accept();
      } catch (IOException e) {
        return;
      }
      accepted.incrementAndGet();
      sockets.add(in);
      if (toDrop.getAndDecrement() > 0) {
        closeQuietly(in);
        continue;
      }
      if (mode == Mode.SILENT) {
        pump(in, OutputStream.nullOutputStream(), null);
        continue;
      }
      try {
        Socket out = new Socket(targetHost, targetPort);
        sockets.add(out);
        pump(in, out.getOutputStream(), out);
        pump(out, in.getOutputStream(), in);
      } catch (IOException e) {
        closeQuietly(in);
      }
    }
  }

  /** Copies from's bytes to to on a thread of its own; closes peer when from ends. */
  private static void pump(Socket from, OutputStream to, Socket peer) {
    Thread t =
        new Thread(
            () -> {
              byte[] buf = new byte[8192];
              try (InputStream in = from.getInputStream()) {
                for (int n; (n = in.read(buf)) >= 0; ) {
                  to.write(buf, 0, n);
                  to.flush();
                }
              } catch (IOException e) {
                // the connection ended
              } finally {
                if (peer != null) {
                  closeQuietly(peer);
                }
              }
            },
            "tcp-proxy-pump");
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // already closed
    }
  }

  /**
   * Closes every connection it holds, as a sidecar closes the keep-alive connections idle past its
   * {@code server.idle_timeout}; it keeps accepting new ones.
   */
  void dropConnections() {
    sockets.forEach(TcpProxy::closeQuietly);
    sockets.clear();
  }

  @Override
  public void close() throws IOException {
    server.close();
    sockets.forEach(TcpProxy::closeQuietly);
  }
}
