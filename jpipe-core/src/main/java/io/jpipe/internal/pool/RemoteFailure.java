package io.jpipe.internal.pool;

import io.jpipe.RemoteTaskException;
import java.io.IOException;

/**
 * How a task's exception travels from a worker: its class name, message and stack trace, always,
 * and the exception itself by Java serialization when it can be serialized. The parent decodes the
 * exception itself, or a {@link RemoteTaskException} built from the rest.
 */
final class RemoteFailure {
  private RemoteFailure() {}

  static void write(WireOut out, Throwable t) {
    out.writeString(t.getClass().getName());
    out.writeString(safeMessage(t));
    StackTraceElement[] trace = t.getStackTrace();
    out.writeInt(trace.length);
    for (StackTraceElement e : trace) {
      out.writeString(e.getClassName());
      out.writeString(e.getMethodName());
      out.writeString(e.getFileName());
      out.writeInt(e.getLineNumber());
    }
    byte[] serialized;
    try {
      serialized = Values.serialize(t);
    } catch (IOException | RuntimeException e) {
      serialized = null;
    }
    if (serialized == null) {
      out.writeInt(-1);
    } else {
      out.writeBlob(serialized);
    }
  }

  private static String safeMessage(Throwable t) {
    try {
      return t.getMessage();
    } catch (RuntimeException e) {
      return null;
    }
  }

  static Throwable read(WireIn in, ClassLoader loader) throws IOException {
    String className = in.readString();
    String message = in.readString();
    int n = in.readInt();
    if (n < 0) {
      throw new java.io.StreamCorruptedException("negative stack depth");
    }
    StackTraceElement[] trace = new StackTraceElement[Math.min(n, 1 << 16)];
    for (int i = 0; i < n; i++) {
      String cls = in.readString();
      String method = in.readString();
      String file = in.readString();
      int line = in.readInt();
      if (i < trace.length) {
        trace[i] = new StackTraceElement(cls, method, file, line);
      }
    }
    int len = in.readInt();
    if (len >= 0) {
      int at = in.skip(len);
      try {
        if (Values.deserialize(in.array(), at, len, loader) instanceof Throwable t) {
          return t;
        }
      } catch (IOException | ClassNotFoundException | RuntimeException e) {
        // this JVM cannot decode it: describe it instead
      }
    }
    return new RemoteTaskException(className, message, trace);
  }
}
