package io.jpipe.internal.spawn;

import java.io.IOException;
import java.util.List;

/**
 * The warm start method (CPython's {@code forkserver} in spirit): a spare JVM from the {@link
 * WarmPool}, booted and warmed up ahead of time, takes the task, so the child runs within
 * milliseconds. With no spare ready the child is spawned ({@link SpawnLauncher}): waiting for a
 * spare to boot and warm up would take longer than a spawn, so a warm start is never slower than a
 * spawn. Spares boot with the parent's class path: a task that needs another class path is spawned
 * too.
 *
 * <p>The launcher owns its pool: created on the first warm start (or {@link #prestart}), closed by
 * {@link #closePool} (a later warm start makes a new one) or at JVM exit.
 */
public final class WarmLauncher implements Launcher {
  /** The one warm launcher. */
  static final WarmLauncher INSTANCE = new WarmLauncher();

  private WarmPool pool; // guarded by this

  private WarmLauncher() {}

  private synchronized WarmPool pool() {
    if (pool == null) {
      pool = new WarmPool();
    }
    return pool;
  }

  @Override
  public Launched launch(Task task, long startNanos) throws IOException {
    if (task.jvm().isStandard()) {
      Launched spare = pool().take(task, startNanos);
      if (spare != null) {
        return spare;
      }
    }
    return SpawnLauncher.INSTANCE.launch(task, startNanos);
  }

  /**
   * Keeps at least {@code spares} ready spares for children with these options from now on, and
   * waits up to {@code nanos} until that many are ready.
   *
   * @param spares how many; 1 to {@link WarmPool#MAX_SPARES}
   * @param jvmOptions the children's extra JVM options
   * @param nanos the longest wait; zero returns at once, the spares booting in the background
   * @return whether {@code spares} ready spares are waiting now
   * @throws IllegalArgumentException if {@code spares} is out of range
   */
  public boolean prestart(int spares, List<String> jvmOptions, long nanos) {
    return pool().prestart(List.copyOf(jvmOptions), spares, nanos);
  }

  /**
   * Stops every spare, idle or booting, and waits until they have exited (a few seconds at most
   * each). A later warm start makes a new pool.
   */
  public void closePool() {
    WarmPool closing;
    synchronized (this) {
      closing = pool;
      pool = null;
    }
    if (closing != null) {
      closing.close();
    }
  }
}
