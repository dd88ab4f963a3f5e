package io.jpipe.internal.spawn;

/**
 * What a child JVM needs to become the child, as {@link BootstrapCodec} reads it.
 *
 * @param name the process name
 * @param daemon whether the child dies with its parent
 * @param parentPid the parent's pid, for the daemon child's watch
 * @param target the task: a {@link Targets.StaticMethod} or a functional interface
 * @param args the task's arguments, connections and locks among them live
 */
record Bootstrap(String name, boolean daemon, long parentPid, Object target, Object[] args) {}
