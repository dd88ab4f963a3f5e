package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.NotSerializableException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
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

  /** Not Serializable: the kind of object a lambda captures by mistake. */
  static final class Foo {
    @Override
    public String toString() {
      return "foo";
    }
  }

  /** Serializable, but holding a Foo. */
  static final class Holder implements Serializable {
    private static final long serialVersionUID = 1L;

    @SuppressWarnings("serial") // the point of the test
    final Object inside = new Foo();
  }

  private String field = "a field";

  private static String startFails(ChildProcess p) {
    NotSerializableException e = assertThrows(NotSerializableException.class, p::start);
    assertTrue(TestSupport.children().isEmpty(), "nothing was started");
    return e.getMessage();
  }

  @Test
  void aCapturedValueThatIsNotSerializableIsNamed() {
    Foo foo = new Foo();
    String message = startFails(ChildProcess.of(() -> System.out.println(foo)));
    assertEquals(
        "the target (a lambda in io.jpipe.ChildStartErrorsTest) cannot be sent to the child:"
            + " captured arg$1 of type io.jpipe.ChildStartErrorsTest$Foo is not Serializable",
        message);
  }

  @Test
  void aLambdaThatCapturesThisIsToldSo() {
    String message = startFails(ChildProcess.of(() -> System.out.println(field)));
    assertTrue(
        message.contains(
            "captured arg$1 of type io.jpipe.ChildStartErrorsTest is not Serializable (the lambda"
                + " uses `this`"),
        message);
  }

  @Test
  void aCapturedValueThatHoldsSomethingUnserializableIsNamedWithWhatItHolds() {
    Holder holder = new Holder();
    String label = "x";
    String message = startFails(ChildProcess.of(() -> System.out.println(label + holder.inside)));
    assertTrue(
        message.contains(
            "captured arg$2 of type io.jpipe.ChildStartErrorsTest$Holder holds an instance of"
                + " io.jpipe.ChildStartErrorsTest$Foo, which is not Serializable"),
        message);
  }

  @Test
  void capturedConnectionsAreNotBlamed() throws Exception {
    try (Pipe pipe = Pipe.open()) {
      Connection end = pipe.conn2();
      List<Object> list = new ArrayList<>(List.of(end, new Foo()));
      String message =
          startFails(ChildProcess.of(() -> end.send(list.toString())).name("capturing"));
      assertEquals(
          "the target (a lambda in io.jpipe.ChildStartErrorsTest) cannot be sent to the child:"
              + " captured arg$2 of type java.util.ArrayList holds an instance of"
              + " io.jpipe.ChildStartErrorsTest$Foo, which is not Serializable",
          message);
    }
  }

  @Test
  void anArgumentThatIsNotSerializableIsNamedByItsPosition() {
    ChildProcess.Target2<String, Object> target = ChildStartErrorsTest::twoArguments;
    assertEquals(
        "argument 2 (io.jpipe.ChildStartErrorsTest$Foo) cannot be sent to the child:"
            + " io.jpipe.ChildStartErrorsTest$Foo is not Serializable",
        startFails(ChildProcess.of(target, "fine", new Foo())));
    List<Object> list = new ArrayList<>(List.of("fine", new Foo()));
    assertEquals(
        "argument 1 (java.util.ArrayList) cannot be sent to the child: it holds an instance of"
            + " io.jpipe.ChildStartErrorsTest$Foo, which is not Serializable",
        startFails(ChildProcess.of(ChildStartErrorsTest::oneArgument, list)));
  }

  static void twoArguments(String a, Object b) {}

  static void oneArgument(Object a) {}

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
