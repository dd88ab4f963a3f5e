package io.jpipe.internal.pool;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.function.Function;

/**
 * The future of one pool task, and the task as it travels: its function (cached, or serialized
 * inline) and its encoded argument. Cancelling it tells the {@link Dispatcher}, which drops the
 * task if it is queued, or stops it in its worker.
 *
 * @param <T> the result type
 */
final class TaskFuture<T> extends CompletableFuture<T> {
  final long id;
  final int kind;
  final FnCache.Entry fn;
  final byte[] inline;
  final byte[] arg;
  final long timeoutNanos;
  final ClassLoader loader;
  final Callable<?> local;
  private final Function<Object, T> adapt;
  private final Dispatcher owner;

  // Guarded by the dispatcher's lock.
  Worker worker;
  ScheduledFuture<?> timer;
  boolean written;

  TaskFuture(
      Dispatcher owner,
      long id,
      int kind,
      FnCache.Entry fn,
      byte[] inline,
      byte[] arg,
      long timeoutNanos,
      ClassLoader loader,
      Callable<?> local,
      Function<Object, T> adapt) {
    this.owner = owner;
    this.id = id;
    this.kind = kind;
    this.fn = fn;
    this.inline = inline;
    this.arg = arg;
    this.timeoutNanos = timeoutNanos;
    this.loader = loader;
    this.local = local;
    this.adapt = adapt;
  }

  /** Completes with the worker's decoded result. */
  void succeed(Object value) {
    T result;
    try {
      result = adapt.apply(value);
    } catch (RuntimeException e) {
      completeExceptionally(e);
      return;
    }
    complete(result);
  }

  @Override
  public boolean cancel(boolean mayInterruptIfRunning) {
    boolean cancelled = super.cancel(mayInterruptIfRunning);
    if (cancelled) {
      owner.cancelled(this, mayInterruptIfRunning);
    }
    return cancelled;
  }

  @Override
  public String toString() {
    return "ProcessPool task " + id + " " + super.toString();
  }
}
