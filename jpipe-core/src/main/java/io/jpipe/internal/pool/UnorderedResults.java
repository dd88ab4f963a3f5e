package io.jpipe.internal.pool;

import java.util.List;
import java.util.Set;
import java.util.Spliterators;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * The stream of {@code ProcessPool.mapUnordered}: the results of chunk tasks in the order the
 * chunks complete. Closing it cancels the chunks not yet done.
 *
 * @param <R> the result type
 */
public final class UnorderedResults<R> extends Spliterators.AbstractSpliterator<R> {
  private final LinkedBlockingQueue<Future<List<R>>> done = new LinkedBlockingQueue<>();

  /** The chunks not handed out yet, for close to cancel: a delivered one is let go of. */
  private final Set<Future<List<R>>> undelivered = ConcurrentHashMap.newKeySet();

  private int pending;

  /** The results of the chunk being handed out, each let go of as it is handed out. */
  private Object[] current;

  private int next;

  private UnorderedResults(List<Future<List<R>>> chunks) {
    super(Long.MAX_VALUE, 0);
    pending = chunks.size();
    undelivered.addAll(chunks);
    for (Future<List<R>> f : chunks) {
      ((CompletableFuture<List<R>>) f).whenComplete((v, e) -> done.add(f));
    }
  }

  /**
   * The stream of {@code chunks}' results.
   *
   * @param <R> the result type
   * @param chunks the chunk tasks (the stream keeps none of them, nor their results, once it has
   *     handed them out)
   * @return the stream
   */
  public static <R> Stream<R> stream(List<Future<List<R>>> chunks) {
    UnorderedResults<R> results = new UnorderedResults<>(chunks);
    Set<Future<List<R>>> undelivered = results.undelivered;
    return StreamSupport.stream(results, false)
        .onClose(
            () -> {
              for (Future<List<R>> f : undelivered) {
                f.cancel(false);
              }
              undelivered.clear();
            });
  }

  @Override
  public boolean tryAdvance(Consumer<? super R> action) {
    for (; ; ) {
      if (current != null && next < current.length) {
        @SuppressWarnings("unchecked")
        R r = (R) current[next];
        current[next++] = null;
        action.accept(r);
        return true;
      }
      current = null;
      if (pending == 0) {
        return false;
      }
      Future<List<R>> f;
      try {
        f = done.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CompletionException(e);
      }
      pending--;
      undelivered.remove(f);
      try {
        current = f.get().toArray();
        next = 0;
      } catch (ExecutionException e) {
        throw new CompletionException(e.getCause());
      } catch (CancellationException e) {
        throw e;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CompletionException(e);
      }
    }
  }
}
