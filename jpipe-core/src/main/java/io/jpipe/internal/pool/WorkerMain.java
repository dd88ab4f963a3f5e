package io.jpipe.internal.pool;

import io.jpipe.Connection;
import io.jpipe.ProcessPool;
import io.jpipe.SharedLong;
import java.io.EOFException;
import java.io.IOException;
import java.io.StreamCorruptedException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * The main loop of a pool worker, in the child JVM: runs the initializer, then the tasks in the
 * order they arrive, one at a time, answering each with its result before the next starts (so that
 * when the worker dies, every task it finished has been answered). Exits when the parent closes its
 * end and no task is left.
 */
public final class WorkerMain {
  /** The exit code of a worker whose task ran out of memory. */
  static final int OUT_OF_MEMORY_EXIT = 3;

  private final Connection conn;
  private final SharedLong current;
  private final WireOut out = new WireOut(8192);
  private final ArrayDeque<Call> local = new ArrayDeque<>();
  private final Map<Integer, Object> fns = new HashMap<>();
  private final Set<Long> cancelled = new HashSet<>();
  private boolean eof;

  /** A task as decoded: what to call, or why it cannot be. */
  private record Call(long id, int kind, Object fn, Object arg, Throwable error) {}

  /** A function that did not decode; calls that name it fail with the reason. */
  private record BadFn(Throwable error) {}

  private WorkerMain(Connection conn, SharedLong current) {
    this.conn = conn;
    this.current = current;
  }

  /**
   * The worker's target ({@link io.jpipe.ChildProcess} runs it).
   *
   * @param conn the worker's end of its duplex pipe
   * @param current where the worker says which task it runs (its id, 0 between tasks), so that the
   *     parent knows which task a death interrupted
   * @param config the initializer
   * @throws IOException if the connection fails (then the worker exits)
   */
  public static void run(Connection conn, SharedLong current, WorkerConfig config)
      throws IOException {
    try {
      new WorkerMain(conn, current).work(config);
    } catch (StreamCorruptedException e) {
      throw e; // a bug: say so on stderr
    } catch (IOException e) {
      // The parent closed its end (it shut the pool down, or no longer needs this worker) or is
      // gone: nobody is left to answer, so exit quietly.
    }
  }

  private void work(WorkerConfig config) throws IOException {
    WorkerMain w = this;
    current.set(0);
    if (config.initializer() != null) {
      try {
        config.initializer().run();
      } catch (Throwable t) {
        fatalCheck(t);
        w.out.writeByte(Wire.INIT_FAILED);
        RemoteFailure.write(w.out, t);
        w.flush();
        return;
      }
    }
    w.out.writeByte(Wire.READY);
    w.flush();
    w.loop();
  }

  private static void fatalCheck(Throwable t) {
    if (t instanceof OutOfMemoryError) {
      Runtime.getRuntime().halt(OUT_OF_MEMORY_EXIT);
    }
  }

  private void flush() throws IOException {
    conn.sendBytes(out.array(), 0, out.size());
    out.reset();
  }

  private void loop() throws IOException {
    for (; ; ) {
      if (local.isEmpty()) {
        if (eof || !receive()) {
          return;
        }
        continue;
      }
      while (!eof && conn.poll()) {
        receive();
      }
      Call call = local.poll();
      if (cancelled.remove(call.id())) {
        out.writeByte(Wire.RESULT);
        out.writeLong(call.id());
        out.writeByte(Wire.SKIPPED);
        flush();
        continue;
      }
      runOne(call);
    }
  }

  /** Receives one message; false at end of file. */
  private boolean receive() throws IOException {
    byte[] message;
    try {
      message = conn.recvBytes();
    } catch (EOFException e) {
      eof = true;
      return false;
    }
    parse(new WireIn(message));
    return true;
  }

  private void parse(WireIn in) throws IOException {
    while (in.hasMore()) {
      int op = in.readByte();
      switch (op) {
        case Wire.DEFINE -> {
          int id = in.readInt();
          int len = in.readInt();
          int at = in.skip(len);
          Object fn;
          try {
            fn = Values.deserialize(in.array(), at, len, null);
          } catch (IOException | ClassNotFoundException | RuntimeException e) {
            fn = new BadFn(e);
          }
          fns.put(id, fn);
        }
        case Wire.DROP -> fns.remove(in.readInt());
        case Wire.CANCEL -> {
          long id = in.readLong();
          if (local.stream().anyMatch(c -> c.id() == id)) {
            cancelled.add(id);
          }
        }
        case Wire.CALL -> local.add(readCall(in));
        default -> throw new StreamCorruptedException("bad pool record " + op);
      }
    }
  }

  private Call readCall(WireIn in) throws IOException {
    long id = in.readLong();
    int kind = in.readByte();
    int fnId = in.readInt();
    Object fn;
    Throwable error = null;
    if (fnId == Wire.INLINE) {
      int len = in.readInt();
      int at = in.skip(len);
      try {
        fn = Values.deserialize(in.array(), at, len, null);
      } catch (IOException | ClassNotFoundException | RuntimeException e) {
        fn = null;
        error = e;
      }
    } else {
      fn = fns.get(fnId);
      if (fn == null) {
        throw new StreamCorruptedException("task " + id + " names unknown function " + fnId);
      }
      if (fn instanceof BadFn(Throwable e)) {
        error = e;
      }
    }
    Object arg = null;
    if (kind == Wire.APPLY || kind == Wire.CHUNK) {
      int len = in.readInt();
      int at = in.skip(len);
      if (error == null) {
        try {
          arg = Values.read(new WireIn(in.array(), at, len), null);
        } catch (IOException | ClassNotFoundException | RuntimeException e) {
          error = e;
        }
      }
    }
    return new Call(id, kind, fn, arg, error);
  }

  @SuppressWarnings("unchecked")
  private void runOne(Call call) throws IOException {
    Object result;
    Throwable failure = call.error();
    current.set(call.id());
    if (failure == null) {
      try {
        result =
            switch (call.kind()) {
              case Wire.CALLABLE -> ((Callable<?>) call.fn()).call();
              case Wire.RUNNABLE -> {
                ((Runnable) call.fn()).run();
                yield null;
              }
              case Wire.APPLY -> ((ProcessPool.Fn<Object, ?>) call.fn()).apply(call.arg());
              case Wire.CHUNK -> {
                ProcessPool.Fn<Object, ?> f = (ProcessPool.Fn<Object, ?>) call.fn();
                List<?> args = (List<?>) call.arg();
                ArrayList<Object> results = new ArrayList<>(args.size());
                for (Object a : args) {
                  results.add(f.apply(a));
                }
                yield results;
              }
              default -> throw new StreamCorruptedException("bad task kind " + call.kind());
            };
      } catch (Throwable t) {
        fatalCheck(t);
        failure = t;
        result = null;
      } finally {
        Thread.interrupted(); // a task's interrupt must not reach the next one
      }
    } else {
      result = null;
    }
    out.writeByte(Wire.RESULT);
    out.writeLong(call.id());
    int mark = out.size();
    if (failure == null) {
      out.writeByte(Wire.OK);
      try {
        Values.write(out, result);
      } catch (IOException | RuntimeException e) {
        out.truncate(mark);
        failure = e;
      }
    }
    if (failure != null) {
      out.writeByte(Wire.FAILED);
      RemoteFailure.write(out, failure);
    }
    flush();
    current.set(0);
  }
}
