package io.jpipe;

import io.jpipe.internal.spawn.WarmPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Every lifecycle test again, with children started from warm spares. */
class WarmChildProcessTest extends ChildProcessTest {
  @BeforeEach
  void warm() {
    ChildProcess.setDefaultStartMethod(ChildProcess.StartMethod.WARM);
  }

  @AfterEach
  void cold() {
    ChildProcess.setDefaultStartMethod(ChildProcess.StartMethod.SPAWN);
    WarmPool.shutdown(); // before the check that no child is left
  }

  @Override
  void quiesce() {
    WarmPool.shutdown();
  }
}
