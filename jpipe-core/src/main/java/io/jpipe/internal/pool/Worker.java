package io.jpipe.internal.pool;

import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import io.jpipe.SharedLong;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.Condition;

/**
 * The parent's side of one worker JVM: its process, its connection, the tasks sent to it and not
 * yet answered ({@link #inflight}, oldest first: the head is the one it runs), and the reader
 * thread that takes its answers. The {@link Dispatcher}'s slot thread writes to it.
 */
final class Worker {
  /** How many functions a worker keeps defined; the parent drops the least recently used. */
  static final int DEFINED_CAPACITY = 128;

  final ChildProcess process;
  final Connection conn;
  final String name;
  final long pid;

  /** The id of the task the worker runs, 0 between tasks: written by the worker. */
  final SharedLong current;

  private final Dispatcher owner;

  /** What the slot thread waits on, of the dispatcher's lock. */
  final Condition wake;

  // Guarded by the dispatcher's lock.
  final ArrayDeque<TaskFuture<?>> inflight = new ArrayDeque<>();
  final List<Long> cancels = new ArrayList<>();
  int sent;
  int answers;
  boolean ready;
  boolean dead;

  /** One of the workers the pool started with, not yet running nor gone. */
  boolean initial;

  boolean closing;

  // Only the slot thread uses these.
  private final List<Integer> drops = new ArrayList<>();
  private final LinkedHashMap<Integer, Boolean> defined =
      new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Integer, Boolean> eldest) {
          if (size() > DEFINED_CAPACITY) {
            drops.add(eldest.getKey());
            return true;
          }
          return false;
        }
      };
  private final WireOut out = new WireOut(8192);
  private Thread reader;

  Worker(
      Dispatcher owner, ChildProcess process, Connection conn, SharedLong current, Condition wake) {
    this.owner = owner;
    this.wake = wake;
    this.current = current;
    this.process = process;
    this.conn = conn;
    this.name = process.name();
    this.pid = process.pid();
  }

  void startReader() {
    reader =
        Thread.ofPlatform().daemon().name(name + "-reader").start(owner.tracked(this::readLoop));
  }

  void joinReader() {
    Uninterruptibly.await(reader::join);
  }

  /** Writes tasks and cancellations as one message (the slot thread, outside the lock). */
  void send(List<TaskFuture<?>> tasks, List<Long> cancelIds) throws IOException {
    out.reset();
    for (TaskFuture<?> t : tasks) {
      if (t.fn != null) {
        int id = t.fn.id();
        if (defined.get(id) == null) {
          out.writeByte(Wire.DEFINE);
          out.writeInt(id);
          out.writeBlob(t.fn.bytes());
          defined.put(id, Boolean.TRUE);
        }
        out.writeByte(Wire.CALL);
        out.writeLong(t.id);
        out.writeByte(t.kind);
        out.writeInt(id);
      } else {
        out.writeByte(Wire.CALL);
        out.writeLong(t.id);
        out.writeByte(t.kind);
        out.writeInt(Wire.INLINE);
        out.writeBlob(t.inline);
      }
      if (t.arg != null) {
        out.writeBlob(t.arg);
      }
    }
    for (int id : drops) {
      out.writeByte(Wire.DROP);
      out.writeInt(id);
    }
    drops.clear();
    for (long id : cancelIds) {
      out.writeByte(Wire.CANCEL);
      out.writeLong(id);
    }
    if (out.size() > 0) {
      conn.sendBytes(out.array(), 0, out.size());
    }
  }

  void kill() {
    try {
      process.kill();
    } catch (IOException | RuntimeException e) {
      // it has exited already, or cannot be signalled: its end of file still comes
    }
  }

  private void readLoop() {
    try {
      for (; ; ) {
        byte[] message = conn.recvBytes();
        WireIn in = new WireIn(message);
        while (in.hasMore()) {
          int op = in.readByte();
          switch (op) {
            case Wire.READY -> owner.ready(this);
            case Wire.INIT_FAILED -> owner.initializerFailed(this, RemoteFailure.read(in, null));
            case Wire.RESULT -> result(in);
            default -> throw new java.io.StreamCorruptedException("bad pool record " + op);
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      // End of file: the worker exited or was killed; or we closed the connection; or it sent
      // garbage, and then it must not run on.
      if (!(e instanceof java.io.EOFException) && !owner.closing(this)) {
        kill();
      }
    } finally {
      owner.workerGone(this);
    }
  }

  private void result(WireIn in) throws IOException {
    long id = in.readLong();
    int status = in.readByte();
    TaskFuture<?> task = owner.answered(this, id);
    if (task == null) {
      throw new java.io.StreamCorruptedException("answer for unknown task " + id);
    }
    switch (status) {
      case Wire.OK -> {
        Object value;
        try {
          value = Values.read(in, task.loader);
        } catch (Throwable e) {
          // the result's own readObject failed (or its class did not link): only this task
          // fails; each answer is a message of its own, so the worker goes on
          in.skipRest();
          task.completeExceptionally(e);
          if (e instanceof VirtualMachineError vm) {
            throw vm; // this JVM is in trouble: stop reading (the worker is killed)
          }
          return;
        }
        task.succeed(value);
      }
      case Wire.FAILED -> task.completeExceptionally(RemoteFailure.read(in, task.loader));
      case Wire.SKIPPED -> task.cancel(false);
      default -> throw new java.io.StreamCorruptedException("bad result status " + status);
    }
  }

  @Override
  public String toString() {
    return name + " (pid " + pid + ")";
  }
}
