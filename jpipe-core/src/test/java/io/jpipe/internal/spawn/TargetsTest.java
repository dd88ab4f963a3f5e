package io.jpipe.internal.spawn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.jpipe.ChildProcess;
import java.io.Serial;
import java.io.Serializable;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** How a task is described for the child: a method reference by name, anything else as it is. */
class TargetsTest {
  /** A task class of the user's own, with a writeReplace that counts its calls. */
  static final class OwnTask implements ChildProcess.Target0 {
    @Serial private static final long serialVersionUID = 1L;
    static final AtomicInteger REPLACED = new AtomicInteger();

    @Override
    public void run() {}

    @Serial
    private Object writeReplace() {
      REPLACED.incrementAndGet();
      return this;
    }
  }

  static void staticTask() {}

  @Test
  void aClassOfTheUsersOwnIsSentAsItIsAndItsWriteReplaceIsNotCalledByJpipe() {
    OwnTask task = new OwnTask();
    assertSame(task, Targets.describe(task));
    assertEquals(0, OwnTask.REPLACED.get(), "jpipe called the task's own writeReplace");
  }

  @Test
  @SuppressWarnings("serial") // a test's own method reference
  void aMethodReferenceTravelsByName() {
    ChildProcess.Target0 ref = TargetsTest::staticTask;
    Serializable d = Targets.describe(ref);
    Targets.StaticMethod m = assertInstanceOf(Targets.StaticMethod.class, d);
    assertEquals(TargetsTest.class.getName(), m.className);
    assertEquals("staticTask", m.methodName);
  }
}
