package io.jpipe.cli;

import io.jpipe.Connection;
import io.jpipe.net.Address;
import io.jpipe.net.AuthenticationException;
import io.jpipe.net.Listener;
import java.io.EOFException;
import java.io.IOException;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code jpipe serve}: a listener that prints (and optionally echoes) what clients send. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = {
      "Listens on ADDRESS, accepts clients one after another and prints each message received on"
          + " a line of its own: bytes as text when they are UTF-8, else as hex; objects as"
          + " Python would print them. A client that fails authentication is reported on stderr"
          + " and the next one is served.",
      "ADDRESS: unix:/path, unix:@name (Linux abstract) or tcp:host:port (port 0: any).",
      "Status lines (listening address, clients) go to stderr."
    })
final class ServeCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "ADDRESS", description = "Where to listen.")
  String address;

  @Mixin NetOptions net;

  @Option(
      names = "--echo",
      description =
          "Send each message back: the same bytes with --codec bytes, else the object decoded and"
              + " encoded again.")
  boolean echo;

  @Option(names = "--count", paramLabel = "N", description = "Stop after N messages (in all).")
  Integer count;

  @Override
  public Integer call() throws IOException {
    PrintStream out = System.out;
    PrintStream err = System.err;
    Address where = NetOptions.address(address);
    int received = 0;
    try (Listener listener =
        Listener.builder().address(where).authkey(net.authkey()).codec(net.codec.codec()).open()) {
      err.println("jpipe serve: listening on " + listener.address());
      err.flush();
      while (count == null || received < count) {
        Connection conn;
        try {
          conn = listener.accept();
        } catch (AuthenticationException e) {
          err.println("jpipe serve: a client failed authentication: " + e.getMessage());
          continue;
        }
        err.println("jpipe serve: client connected");
        try (conn) {
          while (count == null || received < count) {
            if (net.codec == NetOptions.CodecChoice.bytes) {
              byte[] m = conn.recvBytes();
              out.println(Repr.bytes(m));
              out.flush();
              received++;
              if (echo) {
                conn.sendBytes(m);
              }
            } else {
              Object o;
              try {
                o = conn.recv();
              } catch (EOFException e) {
                throw e;
              } catch (IOException e) {
                if (!conn.isReadable() || conn.isClosed()) {
                  throw e;
                }
                err.println("jpipe serve: a message could not be decoded: " + e.getMessage());
                continue;
              }
              out.println(Repr.object(o));
              out.flush();
              received++;
              if (echo) {
                conn.send(o);
              }
            }
          }
        } catch (EOFException e) {
          err.println("jpipe serve: client disconnected");
        } catch (IOException e) {
          err.println("jpipe serve: client dropped: " + e);
        }
      }
    }
    return 0;
  }
}
