package io.jpipe.internal.spawn;

import java.io.Serial;
import java.io.Serializable;

/**
 * What a child JVM needs to become the child: written by the parent with {@link SpawnOutput}, read
 * by {@link ChildMain} with {@link SpawnInput}.
 *
 * @param name the process name
 * @param daemon whether the child dies with its parent
 * @param parentPid the parent's pid, for the daemon child's watch
 * @param target the task, one of {@code ChildProcess.Target0..Target4}
 * @param args the task's arguments; connections and locks among them are placeholders on the wire
 */
public record Bootstrap(String name, boolean daemon, long parentPid, Object target, Object[] args)
    implements Serializable {
  @Serial private static final long serialVersionUID = 1L;
}
