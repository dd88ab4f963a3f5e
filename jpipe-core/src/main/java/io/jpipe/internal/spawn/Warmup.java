package io.jpipe.internal.spawn;

import io.jpipe.Pipe;
import io.jpipe.ProcessLock;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.List;

/**
 * The work every child does first, done ahead of time: loading and linking jpipe's classes, the
 * native calls of sending, receiving and polling, and Java serialization. A warm spare runs it
 * while it waits for a task; the AOT training run ({@link AotTraining}) runs it so that the AOT
 * cache holds all of it.
 */
final class Warmup {
  private Warmup() {}

  static void run() throws IOException, ClassNotFoundException {
    try (Pipe p = Pipe.open()) {
      for (int i = 0; i < 100; i++) {
        p.conn1().sendBytes(new byte[8]);
        p.conn2().recvBytesInto(new byte[8]);
        p.conn2().send(i);
        p.conn1().recv();
      }
      p.conn1().send(List.of("warm", 1, 2.5));
      p.conn2().recv();
      p.conn2().poll();
      p.conn2().poll(Duration.ofMillis(1));
    }
    try (Pipe p = Pipe.open(false)) {
      p.conn2().sendBytes(new byte[64]);
      p.conn1().recvBytes();
      // The bootstrap path: placeholders for a connection and a lock, and back.
      try (ProcessLock lock = ProcessLock.create()) {
        lock.lock();
        lock.unlock();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        SpawnOutput out = new SpawnOutput(bytes);
        try {
          out.writeObject(new Bootstrap("warmup", false, 0, (Object) "target", new Object[] {}));
          out.flush();
        } finally {
          out.releaseAll();
        }
        try (SpawnInput in =
            new SpawnInput(new ByteArrayInputStream(bytes.toByteArray()), new int[0])) {
          in.readObject();
        }
      }
    }
  }
}
