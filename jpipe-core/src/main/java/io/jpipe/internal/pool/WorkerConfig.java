package io.jpipe.internal.pool;

import io.jpipe.ChildProcess;
import java.io.Serial;
import java.io.Serializable;

/**
 * What a worker is told when it starts.
 *
 * @param initializer runs before the first task, or null
 */
public record WorkerConfig(ChildProcess.Target0 initializer) implements Serializable {
  @Serial private static final long serialVersionUID = 1L;
}
