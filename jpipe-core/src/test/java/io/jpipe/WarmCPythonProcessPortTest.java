package io.jpipe;

import io.jpipe.internal.spawn.WarmPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** CPython's process tests again, with children started from warm spares (CPython's forkserver). */
class WarmCPythonProcessPortTest extends CPythonProcessPortTest {
  @BeforeEach
  void warm() {
    ChildProcess.setDefaultStartMethod(ChildProcess.StartMethod.WARM);
  }

  @AfterEach
  void cold() {
    ChildProcess.setDefaultStartMethod(ChildProcess.StartMethod.SPAWN);
    WarmPool.shutdown();
  }
}
