package io.jpipe.internal.spawn;

/**
 * The training run that creates a child AOT cache: started by {@link AotCache} with {@code
 * -XX:AOTCacheOutput}, it does what a child does on its way to its first message, then exits, and
 * the JVM writes the cache.
 */
public final class AotTraining {
  private AotTraining() {}

  /**
   * Runs the training.
   *
   * @param args unused
   * @throws Exception if the warm-up fails
   */
  public static void main(String[] args) throws Exception {
    Warmup.run();
  }
}
