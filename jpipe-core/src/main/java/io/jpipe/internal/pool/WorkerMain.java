package io.jpipe.internal.pool;

import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import io.jpipe.Pipe;
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
  private final Map<Integer, Def> fns = new HashMap<>();
  private final Set<Long> cancelled = new HashSet<>();
  private boolean eof;

  /**
   * A task as received, not decoded yet: it is decoded only once the worker has said that it runs
   * it ({@link #current}), so that a death while decoding it (a {@code readObject} that exits or
   * crashes) fails this task, and not the next worker that would be sent it again.
   *
   * @param id the task's id
   * @param kind what it is ({@link Wire#CALLABLE}...)
   * @param fn its function, defined earlier, or null if inline
   * @param buf the message that holds its encoded parts
   * @param fnAt where its inline function starts in {@code buf}
   * @param fnLen its inline function's length, or -1
   * @param argAt where its argument starts in {@code buf}
   * @param argLen its argument's length, or -1 for none
   */
  private record Call(
      long id, int kind, Def fn, byte[] buf, int fnAt, int fnLen, int argAt, int argLen) {}

  /** A defined function, decoded on its first call (in a task, for the same reason). */
  private static final class Def {
    private byte[] buf;
    private final int at;
    private final int len;
    private Object fn;
    private Throwable error;

    Def(byte[] buf, int at, int len) {
      this.buf = buf;
      this.at = at;
      this.len = len;
    }

    /** The function; throws why it did not decode (each time it is called). */
    Object get() throws Throwable {
      if (buf != null) {
        byte[] b = buf;
        buf = null;
        try {
          fn = decodeFn(b, at, len);
        } catch (IOException | ClassNotFoundException | RuntimeException e) {
          error = e;
        }
      }
      if (error != null) {
        throw error;
      }
      return fn;
    }
  }

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

  /** How {@link #warmUp} runs its worker loop. */
  @FunctionalInterface
  public interface Runner {
    /**
     * Runs {@code target} with {@code args} until it returns, as a child JVM would run it.
     *
     * @param target the workers' target, {@link #TARGET}
     * @param args its arguments: the connection, the shared word, the config
     * @throws Exception if it cannot be run
     */
    void run(ChildProcess.Target3<Connection, SharedLong, WorkerConfig> target, Object[] args)
        throws Exception;
  }

  /**
   * The target of every pool worker ({@link Dispatcher} starts workers with it): one object, so
   * that a warm spare's warm-up encodes and decodes the very bootstrap a worker is sent.
   */
  public static final ChildProcess.Target3<Connection, SharedLong, WorkerConfig> TARGET =
      WorkerMain::run;

  /**
   * Runs a worker's loop once, in this JVM, on a task and a chunk of a static method's calls, as a
   * pool would send them: a warm spare does it while it waits (so that a pool worker it becomes
   * finds its classes loaded and linked, and its first task does not pay for them).
   *
   * @param runner how the loop is run: directly, or as a child JVM runs its target (the spare's
   *     warm-up, so that decoding a worker's bootstrap and calling its target are warm too)
   * @throws IOException if the pipe or the shared word cannot be made
   */
  @SuppressWarnings("serial") // a serializable reference to a private method, on purpose
  public static void warmUp(Runner runner) throws IOException {
    try (Pipe pipe = Pipe.open(true);
        SharedLong current = SharedLong.create(0)) {
      Object[] args = {pipe.conn1(), current, new WorkerConfig(null)};
      Thread worker =
          Thread.ofPlatform()
              .daemon()
              .name("jpipe-pool-warmup")
              .start(
                  () -> {
                    try {
                      runner.run(TARGET, args);
                    } catch (Exception e) {
                      // the warm-up's end is closed, or the runner failed: nothing to warm
                    } finally {
                      pipe.conn1().close(); // a loop that never ran must not leave us waiting
                    }
                  });
      ProcessPool.Fn<Integer, Integer> fn = WorkerMain::warmUpSquare;
      WireOut o = new WireOut(4096);
      o.writeByte(Wire.DEFINE);
      o.writeInt(1);
      o.writeBlob(Values.serialize(StaticFn.describe(fn)));
      List<Integer> chunk = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        chunk.add(i);
      }
      WireOut arg = new WireOut(1024);
      Values.write(arg, chunk);
      o.writeByte(Wire.CALL);
      o.writeLong(1);
      o.writeByte(Wire.CHUNK);
      o.writeInt(1);
      o.writeBlob(arg.toByteArray());
      arg.reset();
      Values.write(arg, 3);
      o.writeByte(Wire.CALL);
      o.writeLong(2);
      o.writeByte(Wire.APPLY);
      o.writeInt(1);
      o.writeBlob(arg.toByteArray());
      pipe.conn2().sendBytes(o.array(), 0, o.size());
      try {
        for (int answers = 0; answers < 3; answers++) { // READY, then the two results
          WireIn in = new WireIn(pipe.conn2().recvBytes());
          if (in.readByte() == Wire.RESULT) {
            in.readLong();
            if (in.readByte() == Wire.OK) {
              Values.read(in, null);
            }
          }
        }
      } catch (EOFException e) {
        // the loop did not run, or ended early: what ran is warm
      }
      pipe.conn2().close(); // its end of file: the loop returns
      Uninterruptibly.await(worker::join);
    } catch (ClassNotFoundException e) {
      throw new IOException(e); // a JDK class: cannot happen
    }
  }

  private static Integer warmUpSquare(Integer x) {
    return x * x;
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
          fns.put(id, new Def(in.array(), at, len));
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

  /** Reads a task's frame, without decoding its function or argument (see {@link Call}). */
  private Call readCall(WireIn in) throws IOException {
    long id = in.readLong();
    int kind = in.readByte();
    int fnId = in.readInt();
    Def fn = null;
    int fnAt = 0;
    int fnLen = -1;
    if (fnId == Wire.INLINE) {
      fnLen = in.readInt();
      fnAt = in.skip(fnLen);
    } else {
      fn = fns.get(fnId);
      if (fn == null) {
        throw new StreamCorruptedException("task " + id + " names unknown function " + fnId);
      }
    }
    int argAt = 0;
    int argLen = -1;
    if (kind == Wire.APPLY || kind == Wire.CHUNK) {
      argLen = in.readInt();
      argAt = in.skip(argLen);
    }
    return new Call(id, kind, fn, in.array(), fnAt, fnLen, argAt, argLen);
  }

  private static Object decodeFn(byte[] b, int at, int len)
      throws IOException, ClassNotFoundException {
    Object fn = Values.deserialize(b, at, len, null);
    return fn instanceof StaticFn s ? s.resolve() : fn;
  }

  /** The task's function and argument; throws why they cannot be decoded. */
  private static Object[] decode(Call call) throws Throwable {
    Object fn;
    if (call.fn() != null) {
      fn = call.fn().get();
    } else {
      fn = Values.deserialize(call.buf(), call.fnAt(), call.fnLen(), null);
    }
    Object arg = null;
    if (call.argLen() >= 0) {
      arg = Values.read(new WireIn(call.buf(), call.argAt(), call.argLen()), null);
    }
    return new Object[] {fn, arg};
  }

  /**
   * A chunk's calls, in order; the first that throws ends it. A method of its own, so that the JIT
   * compiles its loop whatever the worker ran before.
   */
  private static ArrayList<Object> runChunk(ProcessPool.Fn<Object, ?> f, List<?> args)
      throws Exception {
    int n = args.size();
    ArrayList<Object> results = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      results.add(f.apply(args.get(i)));
    }
    return results;
  }

  @SuppressWarnings("unchecked")
  private void runOne(Call call) throws IOException {
    Object result;
    Throwable failure = null;
    current.set(call.id()); // before decoding: a death from here on fails this task
    Object fn = null;
    Object arg = null;
    try {
      Object[] decoded = decode(call);
      fn = decoded[0];
      arg = decoded[1];
    } catch (Throwable t) {
      fatalCheck(t);
      failure = t;
    }
    if (failure == null) {
      try {
        result =
            switch (call.kind()) {
              case Wire.CALLABLE -> ((Callable<?>) fn).call();
              case Wire.RUNNABLE -> {
                ((Runnable) fn).run();
                yield null;
              }
              case Wire.APPLY -> ((ProcessPool.Fn<Object, ?>) fn).apply(arg);
              case Wire.CHUNK -> runChunk((ProcessPool.Fn<Object, ?>) fn, (List<?>) arg);
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
