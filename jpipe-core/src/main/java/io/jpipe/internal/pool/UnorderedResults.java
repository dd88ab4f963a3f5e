package io.jpipe.internal.pool;

import java.util.Iterator;
import java.util.List;
import java.util.Spliterators;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
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
  private int pending;
  private Iterator<R> current;

  private UnorderedResults(List<Future<List<R>>> chunks) {
    super(Long.MAX_VALUE, 0);
    pending = chunks.size();
    for (Future<List<R>> f : chunks) {
      ((CompletableFuture<List<R>>) f).whenComplete((v, e) -> done.add(f));
    }
  }

  /**
   * The results of {@code chunks} as they complete.
   *
   * @param <R> the result type
   * @param chunks the futures of the chunks
   * @return the stream; closing it cancels what has not run
   */
  public static <R> Stream<R> stream(List<Future<List<R>>> chunks) {
    return StreamSupport.stream(new UnorderedResults<>(chunks), false)
        .onClose(
            () -> {
              for (Future<List<R>> f : chunks) {
                f.cancel(false);
              }
            });
  }

  @Override
  public boolean tryAdvance(Consumer<? super R> action) {
    for (; ; ) {
      if (current != null && current.hasNext()) {
        action.accept(current.next());
        return true;
      }
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
      try {
        current = f.get().iterator();
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
