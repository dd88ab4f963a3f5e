package io.jpipe.internal.spawn;

import io.jpipe.ChildProcess;

/** Calls a child's target with its arguments. */
final class Targets {
  private Targets() {}

  @SuppressWarnings("unchecked")
  static void invoke(Object target, Object[] a) throws Exception {
    switch (target) {
      case ChildProcess.Target0 t -> t.run();
      case ChildProcess.Target1<?> t -> ((ChildProcess.Target1<Object>) t).run(a[0]);
      case ChildProcess.Target2<?, ?> t ->
          ((ChildProcess.Target2<Object, Object>) t).run(a[0], a[1]);
      case ChildProcess.Target3<?, ?, ?> t ->
          ((ChildProcess.Target3<Object, Object, Object>) t).run(a[0], a[1], a[2]);
      case ChildProcess.Target4<?, ?, ?, ?> t ->
          ((ChildProcess.Target4<Object, Object, Object, Object>) t).run(a[0], a[1], a[2], a[3]);
      default -> throw new IllegalArgumentException("not a ChildProcess target: " + target);
    }
  }
}
