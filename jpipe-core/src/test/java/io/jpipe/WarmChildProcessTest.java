package io.jpipe;

import io.jpipe.internal.spawn.Launcher;

/** Every lifecycle test again, with children started from warm spares. */
class WarmChildProcessTest extends ChildProcessTest implements WarmStarts {
  @Override
  void quiesce() {
    Launcher.warm().closePool();
  }
}
