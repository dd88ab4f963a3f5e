package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What a user sees when a child cannot be started: each message says what is wrong and what to do,
 * and nothing is left behind.
 */
class ChildStartErrorsTest {
  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  /** A task class that no jar or directory holds: defined from bytes by a loader of its own. */
  public static final class FromBytes implements ChildProcess.Target0 {
    private static final long serialVersionUID = 1L;

    @Override
    public void run() {}
  }

  @Test
  void aTaskClassThatNoFileHoldsFailsAtOnceSayingWhatToDo() throws Exception {
    String name = FromBytes.class.getName();
    byte[] bytes;
    try (InputStream in =
        FromBytes.class.getResourceAsStream(name.substring(name.lastIndexOf('.') + 1) + ".class")) {
      bytes = in.readAllBytes();
    }
    class BytesLoader extends ClassLoader {
      BytesLoader() {
        super(ChildStartErrorsTest.class.getClassLoader());
      }

      Class<?> define() {
        return defineClass(name, bytes, 0, bytes.length);
      }
    }
    Class<?> c = new BytesLoader().define();
    ChildProcess.Target0 task = (ChildProcess.Target0) c.getDeclaredConstructor().newInstance();
    ChildProcess p = ChildProcess.of(task);
    ProcessStartException e = assertThrows(ProcessStartException.class, p::start);
    assertEquals(ProcessStartException.NOT_STARTED, e.exitCode());
    assertTrue(
        e.getMessage().startsWith("a child JVM cannot load " + name + ", which the task needs"),
        e.getMessage());
    assertTrue(e.getMessage().contains("no jar or directory holds it"), e.getMessage());
    assertTrue(TestSupport.children().isEmpty(), "nothing was started");
    assertTrue(p.toString().contains("initial"), p.toString());
  }
}
